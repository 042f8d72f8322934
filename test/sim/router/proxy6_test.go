package routersim

import (
	"slices"
	"testing"
)

// NDP proxy on VyOS 1.4+: the configuration fills the kernel's proxy table
// when the node changes (the conf script's flush-and-add), an entry
// deleted by hand stays missing until then or a reboot, the kernel answers
// for an entry only with proxy_ndp on, and the listing is the one captured
// from a real kernel.
func TestNDPProxyFromConfiguration(t *testing.T) {
	r, err := New(VyOS14, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const a, b = "2001:db8:1:1:1::10", "2001:db8:1:1:1::11"
	if err := r.SetConfig("set protocols static neighbor-proxy nd "+a+" interface eth2",
		"set protocols static neighbor-proxy nd "+b+" interface eth2"); err != nil {
		t.Fatal(err)
	}
	if got := r.NDPProxies("eth2"); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("proxy entries %v", got)
	}
	if r.AnswersNeighbourSolicitation(a, "eth2") {
		t.Error("answered without proxy_ndp")
	}
	if err := r.SetConfig("set system sysctl parameter net.ipv6.conf.eth2.proxy_ndp value 1"); err != nil {
		t.Fatal(err)
	}
	if !r.AnswersNeighbourSolicitation(a, "eth2") || r.AnswersNeighbourSolicitation("2001:db8:1:1:1::12", "eth2") {
		t.Error("answers only for proxied addresses once proxy_ndp is on")
	}
	out, code := r.RunIP("-6", "neigh", "show", "proxy", "dev", "eth2")
	if code != 0 || out != b+" proxy \n"+a+" proxy \n" {
		t.Errorf("ip -6 neigh show proxy dev eth2 = %d %q", code, out)
	}
	if out, code := r.RunIP("-6", "neigh", "del", "proxy", a, "dev", "eth2"); code != 0 {
		t.Fatal(out)
	}
	if out, code := r.RunIP("-6", "neigh", "del", "proxy", a, "dev", "eth2"); code != 2 || out != "RTNETLINK answers: No such file or directory\n" {
		t.Errorf("del of a missing entry: %d %q", code, out)
	}
	// A commit elsewhere does not run the neighbor-proxy script again.
	if err := r.SetConfig("set system host-name edge"); err != nil {
		t.Fatal(err)
	}
	if got := r.NDPProxies("eth2"); !slices.Equal(got, []string{b}) || r.AnswersNeighbourSolicitation(a, "eth2") {
		t.Errorf("after an unrelated commit: %v", got)
	}
	r.FlushNeighbours("eth2")
	if out, code := r.RunIP("-6", "neigh", "replace", "proxy", a, "dev", "eth2"); code != 0 {
		t.Fatal(out)
	}
	if got := r.NDPProxies("eth2"); !slices.Equal(got, []string{b, a}) {
		t.Errorf("ip -6 neigh flush leaves proxy entries; replace adds: %v", got)
	}
	if out, code := r.RunIP("-6", "neigh", "show"); code != 0 || out != "" {
		t.Errorf("plain ip -6 neigh show lists proxy entries: %q", out)
	}
	r.Save()
	for _, x := range []string{a, b} {
		if out, code := r.RunIP("-6", "neigh", "del", "proxy", x, "dev", "eth2"); code != 0 {
			t.Fatal(out)
		}
	}
	if err := r.Reboot(); err != nil {
		t.Fatal(err)
	}
	if got := r.NDPProxies("eth2"); len(got) != 2 {
		t.Errorf("a reboot applies the saved configuration: %v", got)
	}
}
