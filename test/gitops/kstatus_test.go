package gitops_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// TestKstatus computes the kstatus of every testdata object as the API
// server returns it, and checks it against the operator's conventions:
// Current once Ready is True for the latest generation, InProgress while
// Reconciling is True or the status is behind the spec, Failed while
// Stalled is True. The table also pins down where kstatus, which has no
// Degraded or Suspended, sees the same object differently from Argo CD
// (README, "GitOps: Argo CD and kstatus").
func TestKstatus(t *testing.T) {
	// from names where kstatus takes its message: a condition type, or
	// "generation" for its own observedGeneration check.
	want := map[string]struct {
		status kstatus.Status
		from   string
	}{
		"healthy":           {kstatus.CurrentStatus, "Ready"},
		"reconciling":       {kstatus.InProgressStatus, "Reconciling"},
		"generation-behind": {kstatus.InProgressStatus, "generation"},
		"stalled":           {kstatus.FailedStatus, "Stalled"},
		// Ready is Unknown or False: kstatus's fallback for custom
		// resources reads both as InProgress (Argo CD: Progressing, and
		// Degraded for drift).
		"first-observation": {kstatus.InProgressStatus, "Ready"},
		"drifted":           {kstatus.InProgressStatus, "Ready"},
		// BridgedVM: a guest to fix by hand (Argo CD: Degraded), and one
		// whose Tools do not run, so Ready is Unknown (Argo CD:
		// Progressing): kstatus sees both as InProgress.
		"guest-drifted":           {kstatus.InProgressStatus, "Ready"},
		"guest-tools-not-running": {kstatus.InProgressStatus, "Ready"},
		// kstatus ignores the pause annotation (Argo CD: Suspended).
		"paused": {kstatus.CurrentStatus, "Ready"},
		// kstatus cannot tell that an object without status is new (Argo
		// CD: Progressing); the operator writes Ready=Unknown on first
		// sight, so the window is one API round trip.
		"no-status": {kstatus.CurrentStatus, ""},
		// After a transient failure the operator leaves
		// status.observedGeneration behind the spec, so a Ready left from
		// the previous generation is not taken for current.
		"ready-behind": {kstatus.InProgressStatus, "generation"},
	}
	c := newClient(t)
	for _, k := range loadKindChecks(t) {
		files, err := filepath.Glob(filepath.Join(k.dir, "testdata", "*.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			scenario := strings.TrimSuffix(filepath.Base(f), ".yaml")
			t.Run(k.kind+"/"+scenario, func(t *testing.T) {
				w, ok := want[scenario]
				if !ok {
					t.Fatalf("no kstatus expectation for %s", scenario)
				}
				live := liveObject(t, c, f)
				res, err := kstatus.Compute(live)
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != w.status {
					t.Errorf("kstatus = %s (%s), want %s", res.Status, res.Message, w.status)
				}
				if msg := expectedKstatusMessage(t, live, w.from); res.Message != msg {
					t.Errorf("kstatus message = %q\nwant (from %s)  %q", res.Message, w.from, msg)
				}
			})
		}
	}
}

func expectedKstatusMessage(t *testing.T, u *unstructured.Unstructured, from string) string {
	t.Helper()
	switch {
	case from == "":
		return "Resource is current" // no condition kstatus knows
	case from == "Ready" && condition(u, "Ready")["status"] == "True":
		return "Resource is Ready"
	case from == "generation":
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		return fmt.Sprintf("%s generation is %d, but latest observed generation is %d", u.GetKind(), u.GetGeneration(), observed)
	}
	c := condition(u, from)
	if c == nil {
		t.Fatalf("no %s condition", from)
	}
	return c["message"].(string)
}

// condition finds a condition of a live object, nil if absent.
func condition(u *unstructured.Unstructured, typ string) map[string]any {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, _ := c.(map[string]any); m["type"] == typ {
			return m
		}
	}
	return nil
}
