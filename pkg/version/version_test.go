package version

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMajorMinor(t *testing.T) {
	for gitVersion, want := range map[string][2]string{
		"v0.21.0":                    {"0", "21"},
		"v1.24.3-14-g1747254b-dirty": {"1", "24"},
		"v0.0.0-dev":                 {"0", "0"},
		"v2.3":                       {"2", "3"},
		"not-a-version":              {"", ""},
	} {
		info := newInfo(gitVersion)
		assert.Equal(t, want, [2]string{info.Major, info.Minor}, gitVersion)
		assert.Equal(t, gitVersion, info.GitVersion)
	}
}
