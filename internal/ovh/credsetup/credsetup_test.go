package credsetup_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh/credsetup"
	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

const (
	appKey    = "setup-application-key"
	appSecret = "setup-application-secret-8277e0910d"
	server    = "ns123456.ip-198-51-100.eu"
)

// The command requests a key with exactly ovh.AccessRules, prints where to
// validate it and a Secret the operator reads; the key works once validated.
func TestRequestsAKeyWithTheOperatorsRules(t *testing.T) {
	sim, err := ovhsim.New(ovhsim.Options{Conformance: true, World: ovhsim.World{
		Applications: []ovhsim.Application{{Key: appKey, Secret: appSecret}},
		Servers:      []ovhsim.DedicatedServer{{Name: server, MainIP: "198.51.100.17"}},
		IPs:          []ovhsim.IP{{IP: "203.0.113.123", RoutedTo: server}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	t.Setenv("OVH_APPLICATION_SECRET", appSecret)

	var stdout, stderr bytes.Buffer
	code := credsetup.Main([]string{"--endpoint", sim.Endpoint(), "--application-key", appKey, "--namespace", "edge"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var secret corev1.Secret
	if err := yaml.UnmarshalStrict(stdout.Bytes(), &secret); err != nil {
		t.Fatalf("stdout is not a Secret: %v\n%s", err, stdout.String())
	}
	if secret.Kind != "Secret" || secret.APIVersion != "v1" || secret.Namespace != "edge" || secret.Name != "ovh-credentials" {
		t.Fatalf("secret = %+v", secret)
	}
	ck := secret.StringData[ovh.SecretConsumerKey]
	rules, state, ok := sim.ConsumerKey(ck)
	if !ok || state != ovhsim.CredentialPendingValidation {
		t.Fatalf("consumer key %q: known %v, state %q", ck, ok, state)
	}
	var want []ovhsim.AccessRule
	for _, r := range ovh.AccessRules {
		want = append(want, ovhsim.AccessRule(r))
	}
	if !slices.Equal(rules, want) {
		t.Fatalf("rules requested = %v, want ovh.AccessRules %v", rules, want)
	}

	data := map[string][]byte{}
	for k, v := range secret.StringData {
		data[k] = []byte(v)
	}
	creds, err := ovh.CredentialsFromSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	pool := ovh.NewClients(ovh.Options{RequestsPerSecond: math.Inf(1)})
	c, err := pool.Get(creds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ServerIPs(context.Background(), server); !cause.Is(err, cause.CredentialsInvalid) || !strings.Contains(err.Error(), "validation URL") {
		t.Fatalf("before validation: %v", err)
	}

	url := regexp.MustCompile(`http://\S+credentialToken=\S+`).FindString(stderr.String())
	if url == "" {
		t.Fatalf("no validation URL in:\n%s", stderr.String())
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := c.ServerIPs(context.Background(), server); err != nil {
		t.Fatalf("after validation: %v", err)
	}
	for _, r := range ovh.AccessRules {
		if !strings.Contains(stderr.String(), r.String()) {
			t.Errorf("the instructions do not list %s", r)
		}
	}
	if strings.Contains(stderr.String(), appSecret) {
		t.Error("the instructions repeat the application secret")
	}
	for _, v := range sim.Violations() {
		t.Errorf("departs from OVH's API description: %s", v)
	}
}

func TestMissingFlags(t *testing.T) {
	t.Setenv("OVH_APPLICATION_SECRET", "")
	var stdout, stderr bytes.Buffer
	if code := credsetup.Main([]string{"--application-key", appKey}, &stdout, &stderr); code != 2 || stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q", code, stdout.String())
	}
	if code := credsetup.Main([]string{"--endpoint", "ovh-mars", "--application-key", "a", "--application-secret", "s"}, &stdout, &stderr); code != 2 {
		t.Fatalf("unknown endpoint: exit %d", code)
	}
}
