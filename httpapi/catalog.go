package httpapi

import (
	"fmt"
	"net/http"

	"forge.lthn.ai/core/go-proxy/reactor"
	"forge.lthn.ai/core/go-proxy/registry"
)

// The operator's catalogue behind registration: which pools accounts may
// name and the hashing algorithm (and so the hashrate divider) of each.
// These are writes like any other: a token, and http.restricted false.

// PoolsResponse is GET /api/v1/pools: every registered pool by address.
type PoolsResponse struct {
	Pools []registry.Pool `json:"pools"`
}

// AlgorithmsResponse is GET /api/v1/algorithms: every algorithm by name.
type AlgorithmsResponse struct {
	Algorithms []registry.Algorithm `json:"algorithms"`
}

// servePools is GET (list) or POST (add) /api/v1/pools. POST takes
// {"address":"host:port","family":"sv1"|"cryptonote","algorithm":"…"}
// (family defaults to "sv1") and answers 201 with the pool as stored
// (address normalised); 409 when it exists, 422 for an unknown algorithm.
func (h *Handler) servePools(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	if r.Method != http.MethodPost {
		pools, err := h.reg.store.ListPools(ctx)
		if err != nil {
			h.failErr(w, r, "list pools", err)
			return
		}
		writeJSON(w, http.StatusOK, PoolsResponse{Pools: nonNil(pools)})
		return
	}
	obj, err := readObject(w, r, "address", "family", "algorithm")
	if err != nil {
		h.failErr(w, r, "add pool", err)
		return
	}
	var p registry.Pool
	if p.Address, err = obj.str("address", false, ""); err == nil {
		if p.Family, err = obj.str("family", true, registry.FamilySV1); err == nil {
			p.Algorithm, err = obj.str("algorithm", false, "")
		}
	}
	if err == nil {
		err = h.reg.store.AddPool(ctx, p)
	}
	if err != nil {
		h.failErr(w, r, "add pool", err)
		return
	}
	p.Address, _ = registry.NormalizeAddress(p.Address) // valid: AddPool took it
	h.log.Info("api: pool added", "pool", p.Address, "family", p.Family, "algorithm", p.Algorithm, "remote", r.RemoteAddr)
	w.Header().Set("Location", poolsPath+"/"+p.Address)
	writeJSON(w, http.StatusCreated, p)
}

// servePool is GET or DELETE /api/v1/pools/{host:port}. DELETE answers
// 409 while accounts use the pool.
func (h *Handler) servePool(w http.ResponseWriter, r *http.Request, addr string) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	if r.Method == http.MethodDelete {
		if err := h.reg.store.DeletePool(ctx, addr); err != nil {
			h.failErr(w, r, "delete pool", err)
			return
		}
		norm, _ := registry.NormalizeAddress(addr)
		h.log.Info("api: pool deleted", "pool", norm, "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	p, err := h.reg.store.Pool(ctx, addr)
	if err != nil {
		h.failErr(w, r, "get pool", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// serveAlgorithms is GET (list) or POST (add) /api/v1/algorithms. POST
// takes {"name":"…","divider":N} and answers 201 with the algorithm; 409
// when the name exists.
func (h *Handler) serveAlgorithms(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	if r.Method != http.MethodPost {
		algos, err := h.reg.store.ListAlgorithms(ctx)
		if err != nil {
			h.failErr(w, r, "list algorithms", err)
			return
		}
		writeJSON(w, http.StatusOK, AlgorithmsResponse{Algorithms: nonNil(algos)})
		return
	}
	obj, err := readObject(w, r, "name", "divider")
	if err != nil {
		h.failErr(w, r, "add algorithm", err)
		return
	}
	var a registry.Algorithm
	if a.Name, err = obj.str("name", false, ""); err == nil {
		a.Divider, err = obj.number("divider")
	}
	if err == nil && !reactor.DividerOK(a.Divider) {
		// Hashrates are 2^32 × difficulty ÷ divider: 5e-324 would make
		// them +Inf, so the divider is bounded here, before the store.
		err = badBody(fmt.Sprintf("divider: must be a number from %d to %d", reactor.MinDivider, int64(reactor.MaxDivider)))
	}
	if err == nil {
		err = h.reg.store.AddAlgorithm(ctx, a)
	}
	if err != nil {
		h.failErr(w, r, "add algorithm", err)
		return
	}
	h.log.Info("api: algorithm added", "algorithm", a.Name, "divider", a.Divider, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, a)
}

// serveAlgorithm is DELETE /api/v1/algorithms/{name}: 204, 404, or 409
// while pools use it.
func (h *Handler) serveAlgorithm(w http.ResponseWriter, r *http.Request, name string) {
	ctx, cancel := h.ctx(r)
	defer cancel()
	if err := h.reg.store.DeleteAlgorithm(ctx, name); err != nil {
		h.failErr(w, r, "delete algorithm", err)
		return
	}
	h.log.Info("api: algorithm deleted", "algorithm", name, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusNoContent)
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
