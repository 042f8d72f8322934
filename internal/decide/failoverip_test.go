package decide

import (
	"slices"
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
		if got := FailoverIPWrite(c.manage, c.findings, c.failed, 3); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
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
		if got := SiblingMAC(&self, c.others, c.onServer); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	noMAC := fip("c", "203.0.113.125", "", "", "")
	if got := SiblingMAC(&noMAC, other(nil), onServer); got != "" {
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
		got := ForeignIPs(&c.self, others, c.onMAC)
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
