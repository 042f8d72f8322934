package decide

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/ovhbridge/ovhbridge-operator/api/v1alpha1"
	"github.com/ovhbridge/ovhbridge-operator/internal/drift"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

func TestFailoverIPWrite(t *testing.T) {
	routed := []drift.Finding{{Reason: v1.ReasonRoutedElsewhere}}
	noMAC := []drift.Finding{{Reason: v1.ReasonVirtualMACMissing}}
	failed := func(fn string, gen int64) *v1.FailedTask { return &v1.FailedTask{Function: fn, Generation: gen} }
	for _, c := range []struct {
		name     string
		manage   bool
		findings []drift.Finding
		failed   *v1.FailedTask
		want     OVHWrite
	}{
		{"in sync", true, nil, nil, NoWrite},
		{"routed elsewhere: move", true, routed, nil, MoveIP},
		{"routed elsewhere under Observe", false, routed, nil, NoWrite},
		{"MAC missing: add", true, noMAC, nil, AddVirtualMAC},
		{"the first finding decides: routing before the MAC", true, append(slices.Clone(routed), noMAC...), nil, MoveIP},
		{"a conflict needs a person", true, []drift.Finding{{Reason: v1.ReasonVirtualMACConflict}}, nil, NoWrite},
		{"no vMAC capability", true, []drift.Finding{{Reason: v1.ReasonCapabilityMissing}}, nil, NoWrite},
		{"move failed for this generation", true, routed, failed(ovh.FunctionMoveIP, 3), NoWrite},
		{"move failed for an older generation", true, routed, failed(ovh.FunctionMoveIP, 2), MoveIP},
		{"a failed vMAC task does not stop a move", true, routed, failed(ovh.FunctionAddVirtualMAC, 3), MoveIP},
		{"vMAC failed for this generation", true, noMAC, failed(ovh.FunctionAddVirtualMAC, 3), NoWrite},
	} {
		if got, _ := FailoverIPWrite(c.manage, c.findings, c.failed, 3); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// A block: the first address whose MAC can be fixed, past conflicts and
// addresses whose creation already failed.
func TestFailoverIPWriteForBlocks(t *testing.T) {
	missing := func(addr string) drift.Finding {
		return drift.Finding{Reason: v1.ReasonVirtualMACMissing, Subject: addr}
	}
	conflict := drift.Finding{Reason: v1.ReasonVirtualMACConflict, Subject: "203.0.113.121"}
	failedFor := func(addr string) *v1.FailedTask {
		return &v1.FailedTask{Function: ovh.FunctionAddVirtualMAC, Address: addr, Generation: 3}
	}
	for _, c := range []struct {
		name     string
		findings []drift.Finding
		failed   *v1.FailedTask
		want     OVHWrite
		addr     string
	}{
		{"the first missing MAC", []drift.Finding{missing("203.0.113.121"), missing("203.0.113.122")}, nil, AddVirtualMAC, "203.0.113.121"},
		{"past a conflict", []drift.Finding{conflict, missing("203.0.113.122")}, nil, AddVirtualMAC, "203.0.113.122"},
		{"past an address whose creation failed", []drift.Finding{missing("203.0.113.121"), missing("203.0.113.122")},
			failedFor("203.0.113.121"), AddVirtualMAC, "203.0.113.122"},
		{"only failed ones", []drift.Finding{missing("203.0.113.121")}, failedFor("203.0.113.121"), NoWrite, ""},
		{"routing first, whatever the MACs", []drift.Finding{{Reason: v1.ReasonRoutedElsewhere}, missing("203.0.113.121")}, nil, MoveIP, ""},
		{"part of a block: no move", []drift.Finding{{Reason: v1.ReasonPartOfBlock}}, nil, NoWrite, ""},
	} {
		got, addr := FailoverIPWrite(true, c.findings, c.failed, 3)
		if got != c.want || addr != c.addr {
			t.Errorf("%s: %v %q, want %v %q", c.name, got, addr, c.want, c.addr)
		}
	}
}

func fip(name, ip, vm string, typ v1.VirtualMACType, mac string) v1.FailoverIP {
	f := v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: v1.FailoverIPSpec{IP: ip, Server: "ns1.example"}}
	if vm != "" {
		f.Spec.VirtualMAC = &v1.VirtualMACSpec{Type: typ, VMName: vm}
	}
	f.Status.MACAddress = mac
	return f
}

func TestSiblingMAC(t *testing.T) {
	const mac = "00:50:56:00:00:01"
	self := fip("b", "203.0.113.124", "web1", v1.VirtualMACVMware, "")
	onServer := []VirtualMACRef{{MAC: "00:50:56:00:00:01", Type: "vmware"}}
	other := func(mut func(*v1.FailoverIP)) []v1.FailoverIP {
		o := fip("a", "203.0.113.123", "web1", v1.VirtualMACVMware, mac)
		if mut != nil {
			mut(&o)
		}
		return []v1.FailoverIP{o, self}
	}
	for _, c := range []struct {
		name     string
		others   []v1.FailoverIP
		onServer []VirtualMACRef
		want     string
	}{
		{"the VM's other IP has a MAC: bind to it", other(nil), onServer, mac},
		{"MAC compared case-insensitively, OVH's spelling kept", other(func(o *v1.FailoverIP) { o.Status.MACAddress = "00:50:56:00:00:0a" }),
			[]VirtualMACRef{{MAC: "00:50:56:00:00:0A", Type: "vmware"}}, "00:50:56:00:00:0A"},
		{"another VM", other(func(o *v1.FailoverIP) { o.Spec.VirtualMAC.VMName = "web2" }), onServer, ""},
		{"another server", other(func(o *v1.FailoverIP) { o.Spec.Server = "ns2.example" }), onServer, ""},
		{"another type", other(func(o *v1.FailoverIP) { o.Spec.VirtualMAC.Type = v1.VirtualMACOVH }), onServer, ""},
		{"sibling without a MAC yet", other(func(o *v1.FailoverIP) { o.Status.MACAddress = "" }), onServer, ""},
		{"sibling without virtualMAC", other(func(o *v1.FailoverIP) { o.Spec.VirtualMAC = nil }), onServer, ""},
		{"the MAC no longer exists on the server", other(nil), nil, ""},
		{"the MAC exists with another type", other(nil), []VirtualMACRef{{MAC: mac, Type: "ovh"}}, ""},
		{"only itself", []v1.FailoverIP{self}, onServer, ""},
	} {
		if got := SiblingMAC(&self, "203.0.113.124", c.others, c.onServer); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	noMAC := fip("c", "203.0.113.125", "", "", "")
	if got := SiblingMAC(&noMAC, "203.0.113.125", other(nil), onServer); got != "" {
		t.Errorf("a FailoverIP without virtualMAC has no sibling MAC: %q", got)
	}
}

func TestForeignIPs(t *testing.T) {
	others := []v1.FailoverIP{
		fip("router-wan", "203.0.113.123", "vyatta", v1.VirtualMACVMware, ""),
		fip("web-wan", "203.0.113.124/32", "web1", v1.VirtualMACVMware, ""),
		fip("web-wan-2", "203.0.113.125", "web1", v1.VirtualMACVMware, ""),
		fip("parked", "203.0.113.126", "", "", ""),
	}
	onMAC := []string{"203.0.113.124", "203.0.113.123", "203.0.113.125", "203.0.113.126"}
	for _, c := range []struct {
		name  string
		self  v1.FailoverIP
		onMAC []string
		want  []string
	}{
		{"another VM's IP on my MAC", others[1], onMAC, []string{"203.0.113.123"}},
		{"the same VM's IPs are not foreign", others[2], []string{"203.0.113.125", "203.0.113.124"}, nil},
		{"one IP on the MAC", others[1], []string{"203.0.113.124"}, nil},
		// The adoption that panicked (issue 12): OVH shows this IP on a MAC
		// carrying two IPs, this FailoverIP has no virtualMAC, another one
		// of the namespace has one.
		{"no virtualMAC: nothing is foreign", others[3], onMAC, nil},
	} {
		got := ForeignIPs(&c.self, strings.TrimSuffix(c.self.Spec.IP, "/32"), others, c.onMAC)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestReverseWrite(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	refused := func(name string, attempts int32, ago time.Duration, gen int64) *v1.ReverseRefusal {
		return &v1.ReverseRefusal{Reverse: name, Attempts: attempts, LastAttempt: metav1.NewTime(now.Add(-ago)), Generation: gen}
	}
	const want = "mail.example.com"
	for _, c := range []struct {
		name     string
		manage   bool
		want     string
		observed string
		refused  *v1.ReverseRefusal
		write    bool
	}{
		{"nothing asked", true, "", "", nil, false},
		{"already set (OVH's trailing dot)", true, want, want + ".", nil, false},
		{"missing: set it", true, want, "", nil, true},
		{"another name: replace it", true, want, "old.example.com.", nil, true},
		{"Observe never writes", false, want, "", nil, false},
		{"refused a minute ago: wait", true, want, "", refused(want, 1, time.Minute, 2), false},
		{"refused once, 5 minutes ago: try again", true, want, "", refused(want, 1, 5*time.Minute, 2), true},
		{"refused 3 times, 10 minutes ago: wait (20m)", true, want, "", refused(want, 3, 10*time.Minute, 2), false},
		{"refused 3 times, 20 minutes ago: try again", true, want, "", refused(want, 3, 20*time.Minute, 2), true},
		{"refused 10 times, 59 minutes ago: an hour at most", true, want, "", refused(want, 10, 59*time.Minute, 2), false},
		{"refused 10 times, an hour ago", true, want, "", refused(want, 10, time.Hour, 2), true},
		{"refused for an older generation: at once", true, want, "", refused(want, 4, time.Minute, 1), true},
		{"another name was refused: at once", true, want, "", refused("old.example.com", 4, time.Minute, 2), true},
		{"the refused name, written with its dot", true, want, "", refused(want+".", 1, time.Minute, 2), false},
	} {
		if got := ReverseWrite(c.manage, c.want, c.observed, c.refused, 2, now); got != c.write {
			t.Errorf("%s: %v, want %v", c.name, got, c.write)
		}
	}
}

func TestReverseRefused(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	first := ReverseRefused(nil, "mail.example.com", "Cannot check", 2, now)
	if first.Attempts != 1 || first.Generation != 2 || !first.LastAttempt.Time.Equal(now) || first.Message != "Cannot check" {
		t.Fatalf("first refusal = %+v", first)
	}
	if again := ReverseRefused(first, "mail.example.com.", "again", 2, now.Add(time.Hour)); again.Attempts != 2 {
		t.Errorf("the same name again: attempts %d", again.Attempts)
	}
	if other := ReverseRefused(first, "web.example.com", "x", 2, now); other.Attempts != 1 {
		t.Errorf("another name starts over: attempts %d", other.Attempts)
	}
	if newer := ReverseRefused(first, "mail.example.com", "x", 3, now); newer.Attempts != 1 {
		t.Errorf("a new generation starts over: attempts %d", newer.Attempts)
	}
	for n, want := range map[int32]time.Duration{1: 5 * time.Minute, 2: 10 * time.Minute, 4: 40 * time.Minute, 5: time.Hour, 50: time.Hour} {
		if got := ReverseRetryAfter(n); got != want {
			t.Errorf("ReverseRetryAfter(%d) = %s, want %s", n, got, want)
		}
	}
}

// blockFIP is a /29 whose addresses carry virtual MACs of VMs.
func blockFIP(name string, addrs map[string]string, macs map[string]string) v1.FailoverIP {
	f := v1.FailoverIP{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: v1.FailoverIPSpec{IP: "203.0.113.120/29", Server: "ns1.example"}}
	for _, ip := range slices.Sorted(maps.Keys(addrs)) {
		f.Spec.Addresses = append(f.Spec.Addresses, v1.AddressSpec{IP: ip, VirtualMAC: &v1.VirtualMACSpec{VMName: addrs[ip]}})
		if macs[ip] != "" {
			f.Status.Addresses = append(f.Status.Addresses, v1.AddressStatus{IP: ip, MACAddress: macs[ip]})
		}
	}
	return f
}

func TestWantedMACs(t *testing.T) {
	single := fip("a", "203.0.113.123/32", "vyatta", "", "00:50:56:00:00:01")
	if got := WantedMACs(&single); len(got) != 1 || got[0].IP != "203.0.113.123" || got[0].Type != v1.VirtualMACVMware ||
		got[0].VMName != "vyatta" || got[0].MAC != "00:50:56:00:00:01" {
		t.Errorf("single IP: %+v", got)
	}
	block := blockFIP("b", map[string]string{"203.0.113.121": "mail", "203.0.113.122": "web"}, map[string]string{"203.0.113.122": "00:50:56:00:00:02"})
	block.Spec.Addresses = append(block.Spec.Addresses, v1.AddressSpec{IP: "203.0.113.123", Reverse: "x.example.com"})
	got := WantedMACs(&block)
	if len(got) != 2 || got[0].IP != "203.0.113.121" || got[0].MAC != "" || got[1].VMName != "web" || got[1].MAC != "00:50:56:00:00:02" {
		t.Errorf("block: %+v", got)
	}
	none := fip("c", "203.0.113.125", "", "", "")
	if got := WantedMACs(&none); len(got) != 0 {
		t.Errorf("no virtual MAC: %+v", got)
	}
}

// Addresses of a block are siblings of each other and of single IPs: one VM,
// one MAC, wherever its addresses come from; and another VM's address of the
// same block on my MAC is foreign.
func TestBlockSiblingsAndForeignIPs(t *testing.T) {
	const mac = "00:50:56:00:00:07"
	onServer := []VirtualMACRef{{MAC: mac, Type: "vmware"}}
	block := blockFIP("blk", map[string]string{"203.0.113.121": "web1", "203.0.113.122": "web1", "203.0.113.123": "mail"},
		map[string]string{"203.0.113.121": mac})
	single := fip("single", "203.0.113.50", "web1", v1.VirtualMACVMware, "")
	all := []v1.FailoverIP{block, single}
	if got := SiblingMAC(&all[0], "203.0.113.122", all, onServer); got != mac {
		t.Errorf("another address of the block, same VM: %q", got)
	}
	if got := SiblingMAC(&all[0], "203.0.113.123", all, onServer); got != "" {
		t.Errorf("another VM of the block: %q", got)
	}
	if got := SiblingMAC(&all[0], "203.0.113.121", all, onServer); got != "" {
		t.Errorf("an address is not its own sibling: %q", got)
	}
	// self's own newer status counts over the list's older copy of it.
	fresh := all[0].DeepCopy()
	fresh.Status.Addresses = []v1.AddressStatus{{IP: "203.0.113.121", MACAddress: mac}}
	stale := []v1.FailoverIP{blockFIP("blk", map[string]string{"203.0.113.121": "web1", "203.0.113.122": "web1"}, nil)}
	if got := SiblingMAC(fresh, "203.0.113.122", stale, onServer); got != mac {
		t.Errorf("self's MAC from this pass, the list's copy stale: %q", got)
	}
	if got := SiblingMAC(fresh, "203.0.113.122", nil, onServer); got != mac {
		t.Errorf("self not in the list: %q", got)
	}
	if got := SiblingMAC(&all[1], "203.0.113.50", all, onServer); got != mac {
		t.Errorf("a single IP of the VM finds the block address's MAC: %q", got)
	}
	onMAC := []string{"203.0.113.121", "203.0.113.122", "203.0.113.123"}
	if got := ForeignIPs(&all[0], "203.0.113.121", all, onMAC); !slices.Equal(got, []string{"203.0.113.123"}) {
		t.Errorf("foreign: %v", got)
	}
}

func TestMACUpdateMattersForBlocks(t *testing.T) {
	old := blockFIP("b", map[string]string{"203.0.113.121": "web1"}, nil)
	cur := blockFIP("b", map[string]string{"203.0.113.121": "web1"}, map[string]string{"203.0.113.121": "00:50:56:00:00:01"})
	if !MACUpdateMatters(&old, &cur) {
		t.Error("an address's MAC appearing matters")
	}
	same := cur.DeepCopy()
	same.Status.Conditions = []metav1.Condition{{Type: v1.TypeReady, Status: metav1.ConditionFalse, Reason: "x"}}
	if MACUpdateMatters(&cur, same) {
		t.Error("every MAC known: Ready alone does not matter")
	}
}
