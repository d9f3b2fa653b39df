package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"sigs.k8s.io/yaml"
)

// The upstream layout (argo-cd resource_customizations/<group>/<Kind>/): health.lua,
// health_test.yaml listing {inputPath, healthStatus} cases, inputs under testdata/.
type healthTests struct {
	Tests []struct {
		InputPath    string       `json:"inputPath"`
		HealthStatus healthStatus `json:"healthStatus"`
	} `json:"tests"`
}

// runHealthTests runs every health_test.yaml case under root against its health.lua, with
// the libraries an argocd-cm script gets and with all of them (as a built-in script gets),
// printing one line per case. It returns how many failed.
func runHealthTests(root string, out io.Writer) (int, error) {
	var scripts []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "health.lua" {
			scripts = append(scripts, path)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	if len(scripts) == 0 {
		return 0, fmt.Errorf("no health.lua under %s", root)
	}
	sort.Strings(scripts)
	failed, ran := 0, 0
	for _, scriptPath := range scripts {
		dir := filepath.Dir(scriptPath)
		script, err := os.ReadFile(scriptPath)
		if err != nil {
			return 0, err
		}
		spec, err := os.ReadFile(filepath.Join(dir, "health_test.yaml"))
		if err != nil {
			return 0, err
		}
		var tests healthTests
		if err := yaml.UnmarshalStrict(spec, &tests); err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Join(dir, "health_test.yaml"), err)
		}
		if len(tests.Tests) == 0 {
			return 0, fmt.Errorf("%s: no tests", filepath.Join(dir, "health_test.yaml"))
		}
		for _, tc := range tests.Tests {
			objs, err := readObjects(filepath.Join(dir, tc.InputPath))
			if err != nil {
				return 0, err
			}
			if len(objs) != 1 {
				return 0, fmt.Errorf("%s: want one object, found %d", tc.InputPath, len(objs))
			}
			for _, openLibs := range []bool{false, true} {
				ran++
				got, err := runHealthLua(objs[0].Object, string(script), openLibs)
				mode := "argocd-cm libraries"
				if openLibs {
					mode = "all libraries"
				}
				switch {
				case err != nil:
					failed++
					fmt.Fprintf(out, "FAIL %s (%s): %v\n", tc.InputPath, mode, err)
				case got != tc.HealthStatus:
					failed++
					fmt.Fprintf(out, "FAIL %s (%s): got %+v, want %+v\n", tc.InputPath, mode, got, tc.HealthStatus)
				default:
					fmt.Fprintf(out, "ok   %s (%s): %s\n", tc.InputPath, mode, got.Status)
				}
			}
		}
	}
	fmt.Fprintf(out, "%d passed, %d failed\n", ran-failed, failed)
	return failed, nil
}
