package registry

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Pool families: the stratum dialect a pool speaks.
const (
	FamilySV1        = "sv1"        // Bitcoin-family stratum v1
	FamilyCryptoNote = "cryptonote" // XMRig-style CryptoNote stratum
)

// Address limits. A DNS name is at most 253 bytes; an address adds brackets,
// a colon and up to five port digits.
const (
	maxHostLen    = 253
	maxLabelLen   = 63
	maxAddressLen = maxHostLen + 8
)

// Pool is a registered upstream pool. The algorithm of every account on the
// pool, and so its hashrate divider, follows from the pool's row. It is a
// plain value; copies may be read from any goroutine.
type Pool struct {
	Address   string `json:"address"`   // normalised host:port
	Family    string `json:"family"`    // FamilySV1 or FamilyCryptoNote
	Algorithm string `json:"algorithm"` // a registered algorithm name
}

// AddPool implements Store.
func (s *sqlStore) AddPool(ctx context.Context, p Pool) error {
	addr, err := normalizeAddress("address", p.Address)
	if err != nil {
		return err
	}
	if p.Family != FamilySV1 && p.Family != FamilyCryptoNote {
		return invalid("family", `must be "sv1" or "cryptonote"`)
	}
	if err := validateAlgorithmName("algorithm", p.Algorithm); err != nil {
		return err
	}
	ctx, cancel := call(ctx)
	defer cancel()
	_, err = s.db.ExecContext(ctx, s.q(
		`INSERT INTO pools (address, family, algorithm) VALUES ($1, $2, $3)`),
		addr, p.Family, p.Algorithm)
	switch {
	case s.d.isDuplicate(err):
		return fail(ErrConflict, "pool %q already exists", addr)
	case s.d.isForeignKey(err):
		return fail(ErrUnknownAlgorithm, "unknown algorithm %q", p.Algorithm)
	case err != nil:
		return s.wrap("add pool", err)
	}
	return nil
}

// Pool implements Store.
func (s *sqlStore) Pool(ctx context.Context, address string) (Pool, error) {
	addr, err := normalizeAddress("address", address)
	if err != nil {
		return Pool{}, err
	}
	ctx, cancel := call(ctx)
	defer cancel()
	var p Pool
	err = s.db.QueryRowContext(ctx, s.q(
		`SELECT address, family, algorithm FROM pools WHERE address = $1`), addr).
		Scan(&p.Address, &p.Family, &p.Algorithm)
	if errors.Is(err, sql.ErrNoRows) {
		return Pool{}, fail(ErrNotFound, "pool %q not found", addr)
	}
	if err != nil {
		return Pool{}, s.wrap("get pool", err)
	}
	return p, nil
}

// ListPools implements Store.
func (s *sqlStore) ListPools(ctx context.Context) ([]Pool, error) {
	ctx, cancel := call(ctx)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT address, family, algorithm FROM pools ORDER BY address`+s.d.byteOrder())
	if err != nil {
		return nil, s.wrap("list pools", err)
	}
	defer rows.Close()
	var out []Pool
	for rows.Next() {
		var p Pool
		if err := rows.Scan(&p.Address, &p.Family, &p.Algorithm); err != nil {
			return nil, s.wrap("list pools", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list pools", err)
	}
	return out, nil
}

// DeletePool implements Store.
func (s *sqlStore) DeletePool(ctx context.Context, address string) error {
	addr, err := normalizeAddress("address", address)
	if err != nil {
		return err
	}
	ctx, cancel := call(ctx)
	defer cancel()
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM pools WHERE address = $1`), addr)
	if s.d.isForeignKey(err) {
		return fail(ErrInUse, "pool %q is used by accounts", addr)
	}
	if err != nil {
		return s.wrap("delete pool", err)
	}
	return s.affected(res, fail(ErrNotFound, "pool %q not found", addr), "delete pool")
}

// affected turns a DELETE or UPDATE result that touched no row into notFound.
func (s *sqlStore) affected(res sql.Result, notFound error, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(op, err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// NormalizeAddress validates a pool address and returns its canonical form,
// the key pools are stored under: "host:port" with the host lowercased (or an
// IP literal in canonical form, IPv6 in brackets) and the port in decimal
// without leading zeros. The host must be an IP address without a zone or a
// DNS name of letters, digits, '-' and '_' in dot-separated labels of 1 to 63
// bytes (at most 253 bytes, last label not all digits); the port must be
// 1..65535. A bad address yields a *FieldError for field "address". It is a
// pure function, safe for concurrent use.
func NormalizeAddress(address string) (string, error) {
	return normalizeAddress("address", address)
}

func normalizeAddress(field, address string) (string, error) {
	if address == "" {
		return "", invalid(field, "must not be empty")
	}
	if len(address) > maxAddressLen {
		return "", invalid(field, "must be at most "+strconv.Itoa(maxAddressLen)+" bytes")
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", invalid(field, "must be host:port")
	}
	portNum, ok := parsePort(port)
	if !ok {
		return "", invalid(field, "port must be a number from 1 to 65535")
	}
	if strings.HasPrefix(address, "[") && !strings.Contains(host, ":") {
		return "", invalid(field, "brackets are only for IPv6 addresses")
	}
	host, ok = normalizeHost(host)
	if !ok {
		return "", invalid(field, "host must be an IP address or a DNS name")
	}
	return net.JoinHostPort(host, strconv.Itoa(portNum)), nil
}

func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, n >= 1 && n <= 65535
}

func normalizeHost(host string) (string, bool) {
	if host == "" || len(host) > maxHostLen {
		return "", false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return "", false
		}
		return ip.String(), true
	}
	host = strings.ToLower(host)
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if l == "" || len(l) > maxLabelLen {
			return "", false
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", false // "1.2.3" or "999.0.0.1": a bad IP, not a name
	}
	return host, true
}
