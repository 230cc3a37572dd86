package reactor

// Build metadata. Version is go-proxy's version, reported in the API, the
// user agent sent to pools and the build-info metric. Commit and BuildDate
// say what was built and when; the README's build command stamps them with
// -ldflags "-X forge.lthn.ai/core/go-proxy/reactor.Commit=... -X
// forge.lthn.ai/core/go-proxy/reactor.BuildDate=..." (Version can be
// stamped the same way). Empty means not stamped. Set them only at link
// time: they are read without synchronisation.
var (
	Version   = "1.0.0"
	Commit    = ""
	BuildDate = ""
)
