// Package version reports the build information the Makefile stamps into every binary.
package version

import (
	"fmt"
	"runtime"
	"strconv"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

// Set at link time by the Makefile (-X); the defaults describe an unstamped build.
var (
	gitVersion   = "v0.0.0-dev"
	gitCommit    = "unknown"
	gitTreeState = "unknown"
	buildDate    = "unknown"
)

// Info is the build information of a binary.
type Info struct {
	// Major and Minor are the first two numbers of GitVersion, empty when it is not a version.
	Major        string `json:"major"`
	Minor        string `json:"minor"`
	GitVersion   string `json:"gitVersion"`
	GitCommit    string `json:"gitCommit"`
	GitTreeState string `json:"gitTreeState"`
	BuildDate    string `json:"buildDate"`
	GoVersion    string `json:"goVersion"`
	Compiler     string `json:"compiler"`
	Platform     string `json:"platform"`
}

// Get returns the build information of the running binary.
func Get() Info {
	return newInfo(gitVersion)
}

// newInfo is the build information of a binary whose release is gitVersion.
func newInfo(gitVersion string) Info {
	var major, minor string
	if v, err := utilversion.ParseGeneric(gitVersion); err == nil {
		major, minor = strconv.FormatUint(uint64(v.Major()), 10), strconv.FormatUint(uint64(v.Minor()), 10)
	}
	return Info{
		Major:        major,
		Minor:        minor,
		GitVersion:   gitVersion,
		GitCommit:    gitCommit,
		GitTreeState: gitTreeState,
		BuildDate:    buildDate,
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

// Components are the names accepted by Field.
var Components = []string{"buildDate", "gitCommit", "gitTreeState", "platform"}

// Field returns one field of the build information by its JSON name, limited to Components.
func (i Info) Field(component string) (string, bool) {
	switch component {
	case "buildDate":
		return i.BuildDate, true
	case "gitCommit":
		return i.GitCommit, true
	case "gitTreeState":
		return i.GitTreeState, true
	case "platform":
		return i.Platform, true
	}
	return "", false
}

// String is the release's semantic version, such as v0.21.0.
func (i Info) String() string { return i.GitVersion }
