package reactor

// Version is go-proxy's version, reported in the API, the user agent sent
// to pools and the build-info metric.
const Version = "1.0.0"
