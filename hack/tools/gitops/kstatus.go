package main

import (
	fluxstatus "github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type kstatusResult struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// computeKstatus is status.Compute of sigs.k8s.io/cli-utils (kpt, kubectl-style waiters).
func computeKstatus(u *unstructured.Unstructured) (kstatusResult, error) {
	r, err := status.Compute(u.DeepCopy())
	if err != nil {
		return kstatusResult{}, err
	}
	return kstatusResult{Status: string(r.Status), Message: r.Message}, nil
}

// computeFluxKstatus is the same computation in the fork Flux's kustomize-controller
// health-checks with (github.com/fluxcd/cli-utils, at the version kustomize-controller pins).
func computeFluxKstatus(u *unstructured.Unstructured) (kstatusResult, error) {
	r, err := fluxstatus.Compute(u.DeepCopy())
	if err != nil {
		return kstatusResult{}, err
	}
	return kstatusResult{Status: string(r.Status), Message: r.Message}, nil
}
