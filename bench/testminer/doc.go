// Package testminer has scripted CryptoNote and stratum v1 miners for
// integration tests: one request at a time, every wait bounded by a
// deadline.
//
// A miner talks to anything that speaks the pool side of its protocol: the
// proxy's miner port, bench/mockpool (CryptoNote) or bench/sv1pool (stratum
// v1). Every function takes a testing.TB and fails the test on an I/O
// error, a malformed line or a timeout; nothing sleeps. Each read and write
// has a deadline of Timeout (DefaultTimeout unless WithTimeout says
// otherwise).
//
//	m := testminer.DialCN(t, addr)
//	require.Nil(t, m.Login("WALLET").Error)
//	require.Nil(t, m.Submit().Error)
//
//	s := testminer.DialSV1(t, addr)
//	s.Login("farm.rig1", 0)
//	require.True(t, s.Submit().Accepted())
//
// CN builds shares without hashing: a nonce in the NiceHash range of its
// job (top byte from blob byte 42) and a result whose last 8 bytes meet the
// job target, which is what the proxy and mockpool check. SV1 really
// searches nonces with stratum.SV1Hasher, so a verifying pool accepts its
// shares; keep the difficulty tiny (around 2^-20).
//
// Lines that arrive while a miner waits for an answer (job notifications,
// difficulty and extranonce changes) update its state: CN.Job, SV1.Job,
// SV1.Diff, SV1.E1 and so on. A miner is not safe for concurrent use, and
// it must not be used from a goroutine other than the test's, except for
// ReadLineBy, which never fails the test.
//
// The package imports neither the proxy (package reactor's own tests use
// it) nor the mock pools.
package testminer
