package harness

import (
	"testing"
	"time"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

func TestMain(m *testing.M) { Main(m) }

// The harness wires every controller: the seed's three objects, one per
// system, converge from their builders' defaults.
func TestEveryControllerConverges(t *testing.T) {
	ns := Namespace(t)
	OVH(t, ns, ovhsim.Options{})
	ESXi(t, ns, esxisim.Options{VMs: esxisim.DefaultVMs(false)})
	r := Router(t, ns, routersim.VyOS14, routersim.Options{})
	StartOperator(t, ns, OperatorOptions{})
	fip := FailoverIP(ns, "web-wan", WebIP, "web1")
	bvm := BridgedVM(ns, "web1", "web1", "Network adapter 1", esxisim.PortGroupWAN, WebMAC)
	rc := RouterConfig(ns, "edge", r, v1.DriverVyOSAPI)
	Create(t, fip, bvm, rc)
	for _, o := range []Managed{fip, bvm, rc} {
		Ready(t, o, 60*time.Second)
	}
	if fip.Status.MACAddress == "" {
		t.Fatalf("web-wan has no virtual MAC in status: %+v", fip.Status)
	}
}
