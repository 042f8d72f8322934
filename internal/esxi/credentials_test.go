package esxi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/esxi"
)

const (
	tpUpper = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89"
	tpSHA1  = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"
)

func secret(kv ...string) map[string][]byte {
	d := map[string][]byte{"url": []byte("https://198.51.100.17/sdk"), "username": []byte("root"), "password": []byte("s3cret")}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<delete>" {
			delete(d, kv[i])
			continue
		}
		d[kv[i]] = []byte(kv[i+1])
	}
	return d
}

func TestCredentialsFromSecret(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    map[string][]byte
		wantErr string // substring; "" means success
		check   func(t *testing.T, c esxi.Credentials)
	}{
		{name: "minimal", data: secret(), check: func(t *testing.T, c esxi.Credentials) {
			if c.Insecure || c.Thumbprint != "" || c.Datacenter != "" {
				t.Errorf("unexpected defaults: %+v", c)
			}
		}},
		{name: "missing url", data: secret("url", "<delete>"), wantErr: `"url"`},
		{name: "missing username", data: secret("username", "<delete>"), wantErr: `"username"`},
		{name: "missing password", data: secret("password", "<delete>"), wantErr: `"password"`},
		{name: "http url", data: secret("url", "http://198.51.100.17/sdk"), wantErr: "https"},
		{name: "bare host becomes https", data: secret("url", "ns123456.ip-198-51-100.eu")},
		{name: "thumbprint upper with colons", data: secret("thumbprint", tpUpper)},
		{name: "thumbprint lower without colons", data: secret("thumbprint", strings.ToLower(strings.ReplaceAll(tpUpper, ":", "")))},
		{name: "sha1 thumbprint refused", data: secret("thumbprint", tpSHA1), wantErr: "SHA-1"},
		{name: "garbage thumbprint", data: secret("thumbprint", "zz:top"), wantErr: `"thumbprint"`},
		{name: "bad ca", data: secret("ca.crt", "not a pem"), wantErr: `"ca.crt"`},
		{name: "insecure true", data: secret("insecureSkipTLSVerify", "true"), check: func(t *testing.T, c esxi.Credentials) {
			if !c.Insecure {
				t.Error("insecureSkipTLSVerify=true not honoured")
			}
		}},
		{name: "insecure yes refused", data: secret("insecureSkipTLSVerify", "yes"), wantErr: "insecureSkipTLSVerify"},
		{name: "datacenter", data: secret("datacenter", "DC0"), check: func(t *testing.T, c esxi.Credentials) {
			if c.Datacenter != "DC0" {
				t.Errorf("datacenter = %q", c.Datacenter)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := esxi.CredentialsFromSecret(tc.data)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.check != nil {
					tc.check(t, c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one mentioning %s", err, tc.wantErr)
			}
			if !cause.Is(err, cause.CredentialsInvalid) {
				t.Fatalf("kind = %q, want CredentialsInvalid", cause.KindOf(err))
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestKeySeparatesSessionsAndHidesSecrets(t *testing.T) {
	base, err := esxi.CredentialsFromSecret(secret("thumbprint", tpUpper))
	if err != nil {
		t.Fatal(err)
	}
	same, _ := esxi.CredentialsFromSecret(secret("thumbprint", strings.ToLower(strings.ReplaceAll(tpUpper, ":", ""))))
	if base.Key() != same.Key() {
		t.Error("the same thumbprint spelled differently gives another session key")
	}
	sameURL, _ := esxi.CredentialsFromSecret(secret("url", "https://198.51.100.17", "thumbprint", tpUpper))
	if base.Key() != sameURL.Key() {
		t.Error("https://host and https://host/sdk give different session keys")
	}
	for name, other := range map[string]map[string][]byte{
		"password":   secret("thumbprint", tpUpper, "password", "rotated"),
		"user":       secret("thumbprint", tpUpper, "username", "admin"),
		"trust":      secret("insecureSkipTLSVerify", "true"),
		"url":        secret("thumbprint", tpUpper, "url", "https://198.51.100.18/sdk"),
		"datacenter": secret("thumbprint", tpUpper, "datacenter", "DC0"),
	} {
		c, err := esxi.CredentialsFromSecret(other)
		if err != nil {
			t.Fatal(err)
		}
		if c.Key() == base.Key() {
			t.Errorf("changing the %s keeps the same session key", name)
		}
	}
	k := base.Key()
	for _, s := range []string{k.String(), fmt.Sprintf("%v", k), fmt.Sprintf("%+v", k), fmt.Sprintf("%#v", k)} {
		if strings.Contains(s, "s3cret") || len(s) > 80 {
			t.Errorf("key prints as %q: it must name the endpoint only", s)
		}
		if !strings.Contains(s, "root@https://198.51.100.17/sdk") {
			t.Errorf("key prints as %q: it should name user and endpoint", s)
		}
	}
}
