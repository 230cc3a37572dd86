package registry

import (
	"context"
	"fmt"
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

// AddAlgorithm registers a. The name must be 1 to 32 bytes of [a-z0-9_-/.];
// the divider must be finite and greater than zero. An existing name fails
// with ErrConflict. Safe for concurrent use.
func (s *Store) AddAlgorithm(ctx context.Context, a Algorithm) error {
	if err := validateAlgorithmName("name", a.Name); err != nil {
		return err
	}
	if math.IsNaN(a.Divider) || math.IsInf(a.Divider, 0) || a.Divider <= 0 {
		return invalid("divider", "must be a finite number greater than zero")
	}
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO algorithms (name, divider) VALUES (?, ?)`, a.Name, a.Divider)
	if isDuplicate(err) {
		return fail(ErrConflict, "algorithm %q already exists", a.Name)
	}
	if err != nil {
		return fmt.Errorf("registry: add algorithm: %w", err)
	}
	return nil
}

// ListAlgorithms returns every registered algorithm ordered by name. Safe
// for concurrent use.
func (s *Store) ListAlgorithms(ctx context.Context) ([]Algorithm, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, divider FROM algorithms ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("registry: list algorithms: %w", err)
	}
	defer rows.Close()
	var out []Algorithm
	for rows.Next() {
		var a Algorithm
		if err := rows.Scan(&a.Name, &a.Divider); err != nil {
			return nil, fmt.Errorf("registry: list algorithms: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("registry: list algorithms: %w", err)
	}
	return out, nil
}

// DeleteAlgorithm removes the algorithm called name. It fails with ErrInUse
// while any pool references it and with ErrNotFound if there is no such
// algorithm. Safe for concurrent use.
func (s *Store) DeleteAlgorithm(ctx context.Context, name string) error {
	if err := validateAlgorithmName("name", name); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM algorithms WHERE name = ?`, name)
	if isForeignKey(err) {
		return fail(ErrInUse, "algorithm %q is used by pools", name)
	}
	if err != nil {
		return fmt.Errorf("registry: delete algorithm: %w", err)
	}
	return affected(res, fail(ErrNotFound, "algorithm %q not found", name), "delete algorithm")
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
