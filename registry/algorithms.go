package registry

import (
	"context"
	"math"
	"strconv"
)

// maxAlgorithmLen caps an algorithm name.
const maxAlgorithmLen = 32

// Algorithm is a hashing algorithm and its hashrate divider: the factor that
// turns a share's difficulty into sha256d difficulty-1 units, so that
// hashrate = 2^32 × Σ(difficulty / Divider) / seconds. sha256d is 1 and
// scrypt is 65536; both are seeded by the schema. It is a plain value;
// copies may be read from any goroutine.
type Algorithm struct {
	Name    string  `json:"name"`    // lowercase token, e.g. "sha256d"
	Divider float64 `json:"divider"` // > 0 and finite
}

// AddAlgorithm implements Store.
func (s *sqlStore) AddAlgorithm(ctx context.Context, a Algorithm) error {
	if err := validateAlgorithmName("name", a.Name); err != nil {
		return err
	}
	if math.IsNaN(a.Divider) || math.IsInf(a.Divider, 0) || a.Divider <= 0 {
		return invalid("divider", "must be a finite number greater than zero")
	}
	ctx, cancel := call(ctx)
	defer cancel()
	_, err := s.db.ExecContext(ctx, s.q(
		`INSERT INTO algorithms (name, divider) VALUES ($1, $2)`), a.Name, a.Divider)
	if s.d.isDuplicate(err) {
		return fail(ErrConflict, "algorithm %q already exists", a.Name)
	}
	if err != nil {
		return s.wrap("add algorithm", err)
	}
	return nil
}

// ListAlgorithms implements Store.
func (s *sqlStore) ListAlgorithms(ctx context.Context) ([]Algorithm, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT name, divider FROM algorithms ORDER BY name`+s.d.byteOrder())
	if err != nil {
		return nil, s.wrap("list algorithms", err)
	}
	defer rows.Close()
	var out []Algorithm
	for rows.Next() {
		var a Algorithm
		if err := rows.Scan(&a.Name, &a.Divider); err != nil {
			return nil, s.wrap("list algorithms", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list algorithms", err)
	}
	return out, nil
}

// DeleteAlgorithm implements Store.
func (s *sqlStore) DeleteAlgorithm(ctx context.Context, name string) error {
	if err := validateAlgorithmName("name", name); err != nil {
		return err
	}
	ctx, cancel := call(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM algorithms WHERE name = $1`), name)
	if s.d.isForeignKey(err) {
		return fail(ErrInUse, "algorithm %q is used by pools", name)
	}
	if err != nil {
		return s.wrap("delete algorithm", err)
	}
	return s.affected(res, fail(ErrNotFound, "algorithm %q not found", name), "delete algorithm")
}

func validateAlgorithmName(field, name string) error {
	if name == "" {
		return invalid(field, "must not be empty")
	}
	if len(name) > maxAlgorithmLen {
		return invalid(field, "must be at most "+strconv.Itoa(maxAlgorithmLen)+" bytes")
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '/' || c == '.') {
			return invalid(field, "must contain only a-z, 0-9, '_', '-', '/' and '.'")
		}
	}
	return nil
}
