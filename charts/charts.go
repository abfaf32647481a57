// Package charts carries the KubeStellar Helm chart inside the Go binaries, so that
// `kubectl kubestellar deploy` installs the chart of its own release without fetching it.
package charts

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"path"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/ignore"
)

// ChartName is the name of the KubeStellar chart and of the directory that holds it.
const ChartName = "kubestellar"

// files holds the chart directory; "all:" keeps .helmignore, which names what to leave out.
//
//go:embed all:kubestellar
var files embed.FS

// Load returns a fresh copy of the embedded KubeStellar chart, read the way `helm` reads a
// chart directory (.helmignore and Helm's default ignore rules applied). Each call returns a
// new *chart.Chart, so a caller may change it freely.
func Load() (*chart.Chart, error) {
	rules := ignore.Empty()
	if data, err := files.ReadFile(path.Join(ChartName, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("reading %s of the embedded chart: %w", ignore.HelmIgnore, err)
		}
	}
	rules.AddDefaults()

	var buffered []*loader.BufferedFile
	err := fs.WalkDir(files, ChartName, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == ChartName {
			return nil
		}
		rel := name[len(ChartName)+1:]
		info, err := d.Info()
		if err != nil {
			return err
		}
		if rules.Ignore(rel, info) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		buffered = append(buffered, &loader.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded %s chart: %w", ChartName, err)
	}
	c, err := loader.LoadFiles(buffered)
	if err != nil {
		return nil, fmt.Errorf("loading the embedded %s chart: %w", ChartName, err)
	}
	return c, nil
}
