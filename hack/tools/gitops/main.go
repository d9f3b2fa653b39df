// gitops-check: what Argo CD and Flux make of an object, computed with the code they run.
//
//	gitops-check verdicts [--lua health.lua] [--open-libs] FILE...   one JSON line per object
//	gitops-check test DIR                                             runs every health_test.yaml under DIR
//
// FILE is YAML or JSON (one object, several documents, or a List), e.g. `kubectl get -o json`;
// "-" reads stdin. Numbers are decoded as the API machinery decodes them (int64), as in the
// Argo CD application controller.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "verdicts":
		err = verdicts(os.Args[2:], os.Stdout)
	case "test":
		if len(os.Args) != 3 {
			usage()
		}
		var failed int
		failed, err = runHealthTests(os.Args[2], os.Stdout)
		if err == nil && failed > 0 {
			err = fmt.Errorf("%d health test case(s) failed", failed)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitops-check:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gitops-check verdicts [--lua health.lua] [--open-libs] FILE... | gitops-check test DIR")
	os.Exit(2)
}

// verdict is one object's health as each controller computes it.
type verdict struct {
	Object string `json:"object"`
	// Argo CD: the health.lua result (absent without --lua).
	ArgoCD *healthStatus `json:"argocd,omitempty"`
	// kstatus of sigs.k8s.io/cli-utils, and of github.com/fluxcd/cli-utils (the fork Flux's
	// kustomize-controller runs its health checks with).
	Kstatus     kstatusResult `json:"kstatus"`
	FluxKstatus kstatusResult `json:"fluxKstatus"`
}

func verdicts(args []string, out io.Writer) error {
	var script string
	openLibs := false
	var files []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--lua":
			if i+1 >= len(args) {
				return fmt.Errorf("--lua needs a file")
			}
			b, err := os.ReadFile(args[i+1])
			if err != nil {
				return err
			}
			script = string(b)
			i++
		case "--open-libs":
			openLibs = true
		default:
			files = append(files, args[i])
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("no input files")
	}
	enc := json.NewEncoder(out)
	for _, f := range files {
		objs, err := readObjects(f)
		if err != nil {
			return err
		}
		for _, u := range objs {
			v := verdict{Object: u.GetNamespace() + "/" + u.GetName()}
			if script != "" {
				hs, err := runHealthLua(u.Object, script, openLibs)
				if err != nil {
					return fmt.Errorf("%s: %w", v.Object, err)
				}
				v.ArgoCD = &hs
			}
			if v.Kstatus, err = computeKstatus(u); err != nil {
				return fmt.Errorf("%s: %w", v.Object, err)
			}
			if v.FluxKstatus, err = computeFluxKstatus(u); err != nil {
				return fmt.Errorf("%s: %w", v.Object, err)
			}
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
	}
	return nil
}
