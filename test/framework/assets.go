// Package framework starts real etcd and kube-apiserver processes for tests and cleans them up
// afterwards, also when a test fails, panics or times out.
package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// AssetsEnv names the environment variable listing (like PATH) the directories that hold
// kube-apiserver, kube-controller-manager and etcd. `make test` sets it; to run `go test` by
// hand use `KUBESTELLAR_TEST_ASSETS=$(make -s print-test-assets)`.
const AssetsEnv = "KUBESTELLAR_TEST_ASSETS"

// Binary returns the path of a test binary, failing the test with instructions when it is
// not available.
func Binary(t testing.TB, name string) string {
	t.Helper()
	path, err := LookupBinary(name)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return path
}

// LookupBinary finds a test binary in the directories of KUBESTELLAR_TEST_ASSETS.
func LookupBinary(name string) (string, error) {
	dirs := os.Getenv(AssetsEnv)
	if dirs == "" {
		return "", fmt.Errorf("%s is not set, so %s cannot be found; run the tests with `make test-go`, or run `make testbin` and then `%s=$(make -s print-test-assets) go test ./...`", AssetsEnv, name, AssetsEnv)
	}
	for _, dir := range filepath.SplitList(dirs) {
		candidate := filepath.Join(dir, name)
		if info, err := os.Stat(candidate); dir != "" && err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s=%s; run `make testbin` to build it", name, AssetsEnv, dirs)
}
