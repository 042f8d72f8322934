package ovh_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

func TestCredentialsFromSecret(t *testing.T) {
	secretValues := []string{"s3cr3t-app", "ck-value", "tok-value", "client-secret-value"}
	cases := []struct {
		name     string
		data     map[string]string
		mode     ovh.AuthMode
		errParts []string // all must appear in the error
	}{
		{"signed", map[string]string{"endpoint": "soyoustart-eu", "applicationKey": "ak", "applicationSecret": "s3cr3t-app", "consumerKey": "ck-value"}, ovh.AuthSigned, nil},
		{"signed, trailing newlines", map[string]string{"applicationKey": "ak\n", "applicationSecret": "s3cr3t-app\n", "consumerKey": "ck-value\n"}, ovh.AuthSigned, nil},
		{"access token on a URL", map[string]string{"endpoint": "http://127.0.0.1:8480/1.0/", "accessToken": "tok-value"}, ovh.AuthAccessToken, nil},
		{"oauth2 on ovh-ca", map[string]string{"endpoint": "ovh-ca", "clientID": "id", "clientSecret": "client-secret-value"}, ovh.AuthOAuth2, nil},
		{"nothing", map[string]string{"endpoint": "ovh-eu"}, "", []string{"no credentials", "applicationKey", "accessToken", "clientID"}},
		{"signed without consumer key", map[string]string{"applicationKey": "ak", "applicationSecret": "s3cr3t-app"}, "", []string{"incomplete", "missing consumerKey"}},
		{"signed with only the key", map[string]string{"applicationKey": "ak"}, "", []string{"missing applicationSecret, consumerKey"}},
		{"two modes", map[string]string{"applicationKey": "ak", "applicationSecret": "s3cr3t-app", "consumerKey": "ck-value", "accessToken": "tok-value"}, "", []string{"more than one", "accessToken", "applicationKey"}},
		{"oauth2 half", map[string]string{"clientSecret": "client-secret-value"}, "", []string{"missing clientID"}},
		{"oauth2 on kimsufi", map[string]string{"endpoint": "kimsufi-eu", "clientID": "id", "clientSecret": "client-secret-value"}, "", []string{"OAuth2", "ovh-eu"}},
		{"unknown endpoint", map[string]string{"endpoint": "ovh-mars", "accessToken": "tok-value"}, "", []string{`unknown endpoint "ovh-mars"`, "kimsufi-eu"}},
		{"endpoint not a URL", map[string]string{"endpoint": "ftp://x/1.0", "accessToken": "tok-value"}, "", []string{"neither"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := map[string][]byte{}
			for k, v := range tc.data {
				data[k] = []byte(v)
			}
			creds, err := ovh.CredentialsFromSecret(data)
			if tc.errParts == nil {
				if err != nil {
					t.Fatal(err)
				}
				if mode, _ := creds.Mode(); mode != tc.mode {
					t.Fatalf("mode = %q, want %q", mode, tc.mode)
				}
				if strings.ContainsAny(creds.ApplicationSecret+creds.ConsumerKey, "\n ") {
					t.Fatal("values must be trimmed")
				}
				return
			}
			if !cause.Is(err, cause.Invalid) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, p := range tc.errParts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q does not mention %q", err, p)
				}
			}
			for _, v := range secretValues {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error %q reveals a secret value", err)
				}
			}
		})
	}
}

func TestCredentialsKeyAndPrinting(t *testing.T) {
	base := ovh.Credentials{Endpoint: "ovh-eu", ApplicationKey: "ak", ApplicationSecret: "very-secret-value", ConsumerKey: "consumer-value"}
	if k1, k2 := base.Key(), base.Key(); k1 != k2 {
		t.Fatal("Key must be stable")
	}
	changes := []func(*ovh.Credentials){
		func(c *ovh.Credentials) { c.Endpoint = "ovh-ca" },
		func(c *ovh.Credentials) { c.ApplicationKey = "ak2" },
		func(c *ovh.Credentials) { c.ApplicationSecret = "very-secret-valuf" },
		func(c *ovh.Credentials) { c.ConsumerKey = "consumer-valuf" },
		func(c *ovh.Credentials) { c.AccessToken = "t" },
		func(c *ovh.Credentials) { c.ClientID = "i" },
		func(c *ovh.Credentials) { c.ClientSecret = "s" },
		// Field boundaries count: moving a character between fields is a change.
		func(c *ovh.Credentials) { c.ApplicationKey, c.ApplicationSecret = "akv", "ery-secret-value" },
	}
	seen := map[string]bool{base.Key(): true}
	for i, change := range changes {
		c := base
		change(&c)
		if seen[c.Key()] {
			t.Errorf("change %d did not change the key", i)
		}
		seen[c.Key()] = true
	}
	for _, shown := range []string{base.Key(), base.String(), fmt.Sprintf("%v %+v %#v %s", base, base, base, base)} {
		if strings.Contains(shown, "very-secret-value") || strings.Contains(shown, "consumer-value") {
			t.Errorf("%q reveals a secret", shown)
		}
	}
	if !strings.Contains(base.String(), "ovh-eu") || !strings.Contains(base.String(), string(ovh.AuthSigned)) {
		t.Errorf("String() = %q, want endpoint and mode", base.String())
	}
}
