package drift

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
)

func TestBridgedVM(t *testing.T) {
	const vmac = "02:00:00:aa:bb:cc" // router-wan's virtual MAC
	// The seed's router VM: NIC 1 on LAN, NIC 2 on WAN with router-wan's MAC.
	base := BridgedVMState{
		VMName: "vyatta", PowerState: PoweredOff,
		NICs: []VMNIC{
			{Index: 0, Label: "Network adapter 1", MAC: "00:0c:29:00:00:01", PortGroup: "LAN"},
			{Index: 1, Label: "Network adapter 2", MAC: vmac, PortGroup: "WAN"},
		},
		Want: []WantNIC{
			{Label: "Network adapter 1", PortGroup: "LAN"},
			{Index: 1, PortGroup: "WAN", MAC: vmac, MACFrom: "router-wan"},
		},
		PortGroups: []string{"LAN", "VM Network", "WAN"},
	}
	wrongMAC := func(s *BridgedVMState) { s.NICs[1].MAC = "00:0c:29:00:00:02" }
	cases := []struct {
		name    string
		edit    func(*BridgedVMState)
		reasons []string
		changes []NICChange
		msg     string // substring of the first finding's message
	}{
		{"in sync", func(*BridgedVMState) {}, nil, nil, ""},
		{"MACs compare without case", func(s *BridgedVMState) { s.NICs[1].MAC = strings.ToUpper(vmac) }, nil, nil, ""},
		{"MAC differs on a powered-off VM", wrongMAC, []string{v1.ReasonMACMismatch},
			[]NICChange{{NIC: VMNIC{Index: 1, Label: "Network adapter 2", MAC: "00:0c:29:00:00:02", PortGroup: "WAN"}, MAC: vmac}},
			`NIC #1 of VM vyatta has MAC 00:0c:29:00:00:02, not 02:00:00:aa:bb:cc (the virtual MAC of FailoverIP router-wan)`},
		{"MAC differs on a running VM", func(s *BridgedVMState) { wrongMAC(s); s.PowerState = PoweredOn },
			[]string{v1.ReasonPowerOffRequired},
			[]NICChange{{NIC: VMNIC{Index: 1, Label: "Network adapter 2", MAC: "00:0c:29:00:00:02", PortGroup: "WAN"}, MAC: vmac}},
			"set spec.allowPowerCycle"},
		{"MAC differs on a running VM that may be cycled", func(s *BridgedVMState) {
			wrongMAC(s)
			s.PowerState, s.AllowPowerCycle = PoweredOn, true
		}, []string{v1.ReasonMACMismatch}, []NICChange{{NIC: VMNIC{Index: 1, Label: "Network adapter 2", MAC: "00:0c:29:00:00:02", PortGroup: "WAN"}, MAC: vmac}}, ""},
		{"a suspended VM is never cycled", func(s *BridgedVMState) {
			wrongMAC(s)
			s.PowerState, s.AllowPowerCycle = Suspended, true
		}, []string{v1.ReasonPowerOffRequired}, []NICChange{{NIC: VMNIC{Index: 1, Label: "Network adapter 2", MAC: "00:0c:29:00:00:02", PortGroup: "WAN"}, MAC: vmac}}, "is suspended"},
		{"a running VM wanted off needs no person", func(s *BridgedVMState) {
			wrongMAC(s)
			s.PowerState, s.WantPower = PoweredOn, PoweredOff
		}, []string{v1.ReasonMACMismatch, v1.ReasonPowerStateMismatch},
			[]NICChange{{NIC: VMNIC{Index: 1, Label: "Network adapter 2", MAC: "00:0c:29:00:00:02", PortGroup: "WAN"}, MAC: vmac}}, ""},
		{"wrong port group", func(s *BridgedVMState) { s.NICs[0].PortGroup = "WAN" }, []string{v1.ReasonWrongPortGroup},
			[]NICChange{{NIC: VMNIC{Index: 0, Label: "Network adapter 1", MAC: "00:0c:29:00:00:01", PortGroup: "WAN"}, PortGroup: "LAN"}},
			`NIC "Network adapter 1" of VM vyatta is on port group WAN, not LAN`},
		{"wrong port group and MAC: one edit", func(s *BridgedVMState) { wrongMAC(s); s.NICs[1].PortGroup = "LAN" },
			[]string{v1.ReasonWrongPortGroup, v1.ReasonMACMismatch},
			[]NICChange{{NIC: VMNIC{Index: 1, Label: "Network adapter 2", MAC: "00:0c:29:00:00:02", PortGroup: "LAN"}, MAC: vmac, PortGroup: "WAN"}}, ""},
		{"missing port group blocks the whole NIC", func(s *BridgedVMState) { wrongMAC(s); s.Want[1].PortGroup = "DMZ" },
			[]string{v1.ReasonPortGroupNotFound, v1.ReasonMACMismatch}, nil, "port group DMZ, which does not exist on the host (it has LAN, VM Network, WAN)"},
		{"a NIC already on a port group is not asked to prove it exists", func(s *BridgedVMState) { s.PortGroups = nil }, nil, nil, ""},
		{"FailoverIP without a MAC blocks the NIC", func(s *BridgedVMState) {
			s.NICs[1].PortGroup = "LAN"
			s.Want[1].MAC, s.Want[1].MACNotReady = "", "FailoverIP edge/router-wan has no status.macAddress"
		}, []string{v1.ReasonFailoverIPNotReady, v1.ReasonWrongPortGroup}, nil, "router-wan has no status.macAddress"},
		{"NIC by label not found", func(s *BridgedVMState) { s.Want[0].Label = "Network adapter 3" }, []string{v1.ReasonNICNotFound}, nil,
			`VM vyatta has no NIC "Network adapter 3" (it has #0 "Network adapter 1", #1 "Network adapter 2")`},
		{"NIC by index not found", func(s *BridgedVMState) { s.Want[1].Index = 2 }, []string{v1.ReasonNICNotFound}, nil, "no NIC #2"},
		{"labels match without case", func(s *BridgedVMState) { s.Want[0].Label = "network ADAPTER 1" }, nil, nil, ""},
		{"power state mismatch", func(s *BridgedVMState) { s.WantPower = PoweredOn }, []string{v1.ReasonPowerStateMismatch}, nil,
			"VM vyatta is PoweredOff, not PoweredOn"},
		{"power left alone", func(s *BridgedVMState) { s.PowerState = Suspended }, nil, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base
			s.NICs = append([]VMNIC(nil), base.NICs...)
			s.Want = append([]WantNIC(nil), base.Want...)
			c.edit(&s)
			got := BridgedVM(s)
			var reasons []string
			for _, f := range got.Findings {
				reasons = append(reasons, f.Reason)
			}
			if !reflect.DeepEqual(reasons, c.reasons) {
				t.Fatalf("reasons = %v, want %v (%+v)", reasons, c.reasons, got.Findings)
			}
			if !reflect.DeepEqual(got.Changes, c.changes) {
				t.Errorf("changes = %+v, want %+v", got.Changes, c.changes)
			}
			if c.msg != "" && !strings.Contains(got.Findings[0].Message, c.msg) {
				t.Errorf("message %q lacks %q", got.Findings[0].Message, c.msg)
			}
		})
	}
}

// status.drift names NICs the way the spec does, and carries both values.
func TestBridgedVMDriftFields(t *testing.T) {
	got := BridgedVM(BridgedVMState{
		VMName: "web1", PowerState: PoweredOff,
		NICs:       []VMNIC{{Index: 0, Label: "Network adapter 1", MAC: "00:0C:29:00:00:09", PortGroup: "LAN"}},
		Want:       []WantNIC{{Label: "Network adapter 1", PortGroup: "WAN", MAC: "02:00:00:AA:BB:CD"}},
		PortGroups: []string{"LAN", "WAN"},
	})
	want := []Finding{
		{Reason: v1.ReasonWrongPortGroup, Field: "nics[Network adapter 1].portGroup", Expected: "WAN", Observed: "LAN"},
		{Reason: v1.ReasonMACMismatch, Field: "nics[Network adapter 1].mac", Expected: "02:00:00:aa:bb:cd", Observed: "00:0C:29:00:00:09"},
	}
	for i := range got.Findings {
		got.Findings[i].Message = ""
	}
	if !reflect.DeepEqual(got.Findings, want) {
		t.Errorf("findings = %+v, want %+v", got.Findings, want)
	}
	if len(got.Changes) != 1 || got.Changes[0].MAC != "02:00:00:aa:bb:cd" {
		t.Errorf("MACs are written lower case: %+v", got.Changes)
	}
}
