package controllerhost

// RunElected is runElected, for tests.
var RunElected = runElected

// RunBounded is runBounded, for tests.
var RunBounded = runBounded
