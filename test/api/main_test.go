// Package api_test checks the CRDs against a real kube-apiserver through the
// kubectl built with it: samples apply, bad objects are refused with messages
// a person understands, and `kubectl get` / `kubectl explain` read well.
package api_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/test/controlplane"
)

var cp *controlplane.ControlPlane

func TestMain(m *testing.M) {
	var err error
	cp, err = controlplane.Start(controlplane.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if err := cp.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping control plane:", err)
	}
	os.Remove(cp.Kubeconfig)
	os.Exit(code)
}
