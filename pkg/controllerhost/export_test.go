package controllerhost

// RunElected is runElected, for tests.
var RunElected = runElected

// RunBounded is runBounded, for tests.
var RunBounded = runBounded

// ServeMetrics is serveMetrics, for tests.
var ServeMetrics = serveMetrics
