package decide

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

const (
	s1, s2  = "ns1.example", "ns2.example"
	shared  = "00:50:56:00:00:01"
	another = "00:50:56:00:00:02"
)

// vmFIP is a single IP of VM vm, wanting server, reporting mac.
func vmFIP(name, ip, vm, server, mac string) v1.FailoverIP {
	f := fip(name, ip, vm, v1.VirtualMACVMware, mac)
	f.Spec.Server = server
	f.Status.RoutedTo = s1
	return f
}

func TestPlanMove(t *testing.T) {
	a := vmFIP("a", "203.0.113.123", "web1", s2, shared)
	b := vmFIP("b", "203.0.113.124", "web1", s2, shared)
	stays := vmFIP("b", "203.0.113.124", "web1", s1, shared)
	otherVM := vmFIP("b", "203.0.113.124", "db", s2, shared)
	both := []ovh.VirtualMAC{{MAC: shared, Type: "vmware", IPs: []string{"203.0.113.123", "203.0.113.124"}}}
	alone := []ovh.VirtualMAC{{MAC: shared, Type: "vmware", IPs: []string{"203.0.113.123"}}}
	facts := func(self v1.FailoverIP, all []v1.FailoverIP, macs []ovh.VirtualMAC) MoveFacts {
		return MoveFacts{Self: &self, All: all, Source: s1, SourceMACs: macs, SourceKnown: true,
			DestSupported: true, DestQuota: 16, DestMACs: 0}
	}
	for _, c := range []struct {
		name   string
		f      MoveFacts
		action MoveAction
		reason string
		msg    string // part of the message
		unbind string // address to unbind first
	}{
		{"a MAC of its own: move (the MAC follows)", facts(a, nil, alone), MoveNow, "", "", ""},
		{"no MAC at all", facts(a, nil, nil), MoveNow, "", "", ""},
		{"source unknown: OVH decides", MoveFacts{Self: &a, SourceKnown: false}, MoveNow, "", "", ""},
		{"shared with the same VM moving too, self the carrier (lowest): wait",
			facts(a, []v1.FailoverIP{a, b}, both), MoveWait, v1.ReasonVirtualMACShared, "waiting for 203.0.113.124 to leave virtual MAC " + shared, ""},
		{"shared with the same VM moving too, self not the carrier: unbind first",
			facts(b, []v1.FailoverIP{a, b}, both), MoveUnbindFirst, "", "also serves 203.0.113.123, which carries it", "203.0.113.124"},
		{"shared with an address nobody manages: blocked, naming the MAC",
			facts(a, []v1.FailoverIP{a}, both), MoveBlocked, v1.ReasonDuplicateVirtualMAC, "virtual MAC " + shared + " of 203.0.113.123 also serves 203.0.113.124", ""},
		{"shared with the same VM staying: blocked",
			facts(a, []v1.FailoverIP{a, stays}, both), MoveBlocked, v1.ReasonDuplicateVirtualMAC, "stays on " + s1, ""},
		{"shared with another VM: blocked",
			facts(a, []v1.FailoverIP{a, otherVM}, both), MoveBlocked, v1.ReasonDuplicateVirtualMAC, "two VMs cannot share a MAC", ""},
		{"quota: the destination is full", func() MoveFacts {
			f := facts(a, nil, alone)
			f.DestQuota, f.DestMACs = 2, 2
			return f
		}(), MoveBlocked, v1.ReasonVirtualMACQuotaExceeded, "2 virtual MACs and a quota of 2", ""},
		{"quota counts the shared MAC for the one unbinding too", func() MoveFacts {
			f := facts(b, []v1.FailoverIP{a, b}, both)
			f.DestQuota, f.DestMACs = 1, 1
			return f
		}(), MoveBlocked, v1.ReasonVirtualMACQuotaExceeded, "quota of 1", ""},
		{"quota: without a MAC the block brings none", func() MoveFacts {
			f := facts(a, nil, nil)
			f.DestQuota, f.DestMACs = 1, 1
			return f
		}(), MoveNow, "", "", ""},
		{"destination without virtual MACs", func() MoveFacts {
			f := facts(a, nil, alone)
			f.DestSupported = false
			return f
		}(), MoveBlocked, v1.ReasonCapabilityMissing, "does not support virtual MACs", ""},
	} {
		got := PlanMove(c.f)
		if got.Action != c.action || got.Reason != c.reason || !strings.Contains(got.Message, c.msg) || got.Address != c.unbind {
			t.Errorf("%s: %+v", c.name, got)
		}
		if c.action == MoveUnbindFirst && got.MAC != shared {
			t.Errorf("%s: unbind from %q", c.name, got.MAC)
		}
	}
}

// A block whose MAC is shared with a single IP of the same VM: the lower
// block carries it.
func TestPlanMoveBlockAndSingleIP(t *testing.T) {
	block := blockFIP("blk", map[string]string{"203.0.113.121": "web1"}, map[string]string{"203.0.113.121": shared})
	block.Spec.Server = s2
	single := vmFIP("single", "203.0.113.200", "web1", s2, shared)
	macs := []ovh.VirtualMAC{{MAC: shared, Type: "vmware", IPs: []string{"203.0.113.121", "203.0.113.200"}}}
	all := []v1.FailoverIP{block, single}
	f := MoveFacts{Self: &block, All: all, Source: s1, SourceMACs: macs, SourceKnown: true, DestSupported: true, DestQuota: 8}
	if got := PlanMove(f); got.Action != MoveWait {
		t.Errorf("the block (203.0.113.120/29 < 203.0.113.200) carries: %+v", got)
	}
	f.Self = &single
	if got := PlanMove(f); got.Action != MoveUnbindFirst || got.Address != "203.0.113.200" {
		t.Errorf("the single IP leaves the MAC: %+v", got)
	}
}

func TestAwaitedMAC(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-ago)); return &t }
	self := vmFIP("b", "203.0.113.124", "web1", s2, shared)
	self.Status.RoutedTo = s2
	carrier := func(mut func(*v1.FailoverIP)) []v1.FailoverIP {
		c := vmFIP("a", "203.0.113.123", "web1", s2, shared)
		if mut != nil {
			mut(&c)
		}
		return []v1.FailoverIP{c, self}
	}
	moved := self.DeepCopy()
	moved.Status.MovedAt = at(time.Minute)
	long := self.DeepCopy()
	long.Status.MovedAt = at(10 * time.Minute)
	for _, c := range []struct {
		name     string
		self     *v1.FailoverIP
		prev     string
		onServer []VirtualMACRef
		all      []v1.FailoverIP
		want     string // part of why; "" for not awaited
	}{
		{"no previous MAC", &self, "", nil, nil, ""},
		{"the MAC is here: not awaited (bind or judge it)", moved, shared, []VirtualMACRef{{MAC: shared, Type: "vmware"}}, nil, ""},
		{"own move done a minute ago", moved, shared, nil, nil, "follows the move of 203.0.113.124"},
		{"own move done 10 minutes ago: given up", long, shared, nil, nil, ""},
		{"a sibling carries it, still on its way", &self, shared, nil, carrier(nil), "comes with 203.0.113.123 (FailoverIP a"},
		{"a sibling moving (task in flight)", &self, shared, nil, carrier(func(c *v1.FailoverIP) {
			c.Status.RoutedTo = s2
			c.Status.PendingTask = &v1.PendingTask{Function: ovh.FunctionMoveIP}
		}), "comes with"},
		{"a sibling arrived a minute ago, its MAC not shown yet", &self, shared, nil, carrier(func(c *v1.FailoverIP) {
			c.Status.RoutedTo, c.Status.MovedAt = s2, at(time.Minute)
		}), "comes with"},
		{"a sibling blocked: not coming", &self, shared, nil, carrier(func(c *v1.FailoverIP) {
			c.Status.Conditions = []metav1.Condition{{Type: v1.TypeRouted, Status: metav1.ConditionFalse, Reason: v1.ReasonVirtualMACQuotaExceeded}}
		}), ""},
		{"a sibling whose move failed: not coming", &self, shared, nil, carrier(func(c *v1.FailoverIP) {
			c.Status.LastFailedTask = &v1.FailedTask{Function: ovh.FunctionMoveIP}
		}), ""},
		{"a sibling going elsewhere", &self, shared, nil, carrier(func(c *v1.FailoverIP) { c.Spec.Server = "ns3.example" }), ""},
		{"another VM's MAC", &self, shared, nil, carrier(func(c *v1.FailoverIP) { c.Spec.VirtualMAC.VMName = "db" }), ""},
		{"a sibling with another MAC", &self, shared, nil, carrier(func(c *v1.FailoverIP) { c.Status.MACAddress = another }), ""},
	} {
		got := AwaitedMAC(c.self, "203.0.113.124", c.prev, c.onServer, c.all, now, MACReappearGrace)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSameVM(t *testing.T) {
	a := vmFIP("a", "203.0.113.123", "web1", s2, shared)
	b := vmFIP("b", "203.0.113.124", "web1", s2, shared)
	db := vmFIP("c", "203.0.113.125", "db", s2, "")
	all := []v1.FailoverIP{a, b, db}
	got := SameVM(&b, "203.0.113.124", all, []string{"203.0.113.123", "203.0.113.125", "203.0.113.99"})
	if strings.Join(got, ",") != "203.0.113.125,203.0.113.99" {
		t.Errorf("not the same VM: %v", got)
	}
}
