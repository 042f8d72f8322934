package harness

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// RouterSecretData is what Router puts in the router Secret for sim, for a
// case that needs a variant (wrong password, another host key).
func RouterSecretData(sim *routersim.Router) map[string]string {
	data := map[string]string{"username": sim.Username(), "password": sim.Password(), "hostKey": sim.HostKeyLine()}
	if sim.Profile() != routersim.Vyatta65 {
		data["apiKey"] = sim.APIKey()
		data["ca.crt"] = string(sim.CACertPEM())
	}
	return data
}

// RouterSecret creates the router Secret in ns with data.
func RouterSecret(t *testing.T, ns string, data map[string]string) {
	t.Helper()
	Create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: RouterSecretName}, StringData: data})
}

// SetRouterSecret replaces the data of the router Secret in ns.
func SetRouterSecret(t *testing.T, ns string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: RouterSecretName}, s); err != nil {
		t.Fatal(err)
	}
	s.Data, s.StringData = nil, data
	if err := k8sClient.Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

// Transitions follows obj's conditions (see Follow) and returns the
// function that lists them, for Saw.
func Transitions(t *testing.T, obj client.Object, list client.ObjectList) func() []Transition {
	t.Helper()
	return Follow(t, obj, list).Transitions
}

// Saw returns a poll function that succeeds once the transitions include
// condition typ with status and reason whose message contains every part.
func Saw(log func() []Transition, typ string, status metav1.ConditionStatus, reason string, parts ...string) func() error {
	return func() error {
		got := log()
	next:
		for _, tr := range got {
			if tr.Type != typ || tr.Status != string(status) || tr.Reason != reason {
				continue
			}
			for _, p := range parts {
				if !strings.Contains(tr.Message, p) {
					continue next
				}
			}
			return nil
		}
		return fmt.Errorf("no %s=%s/%s with %q among %v", typ, status, reason, parts, got)
	}
}

// RouterWrites summarises what a simulated router went through.
type RouterWrites struct {
	// Commits is how many commits changed the active configuration;
	// Attempts how many were started at all.
	Commits, Attempts int
	// Saves is how many saves wrote config.boot.
	Saves int
}

// Writes reads sim's journal.
func Writes(sim *routersim.Router) RouterWrites {
	var w RouterWrites
	for _, c := range sim.Commits() {
		w.Attempts++
		if c.Changed {
			w.Commits++
		}
	}
	w.Saves = len(sim.Saves())
	return w
}

// SavesComplete checks every save sim recorded: each must have persisted
// exactly want (set commands), never a partially applied configuration.
func SavesComplete(sim *routersim.Router, want string) error {
	for i, s := range sim.Saves() {
		if s.Active != want {
			return fmt.Errorf("save %d persisted a configuration other than the converged one:\n%s\nwant:\n%s", i+1, s.Active, want)
		}
	}
	return nil
}
