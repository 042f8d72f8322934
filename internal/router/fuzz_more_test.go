package router

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// More fuzz targets, so that every parser of router output (and of the
// Secrets that configure a driver) has one: statements, release strings,
// the boot script listing and merge, commit output, and the HTTP API's
// envelope as every API operation reads it.

func FuzzParsePath(f *testing.F) {
	f.Add("set interfaces ethernet eth2 address '203.0.113.123/32'")
	f.Add(`nat destination rule 20 description "minecraft \"java\""`)
	f.Add("set system login banner post-login 'it''s'")
	f.Fuzz(func(t *testing.T, line string) {
		p, err := ParsePath(line)
		if err != nil {
			return
		}
		again, err := ParsePath("set " + p.String())
		if err != nil {
			t.Fatalf("re-parse of %q failed: %v", p.String(), err)
		}
		if !NewConfig(again).Equal(NewConfig(p)) {
			t.Fatalf("round trip changed %q into %q", p, again)
		}
	})
}

func FuzzPlatformFromShowVersion(f *testing.F) {
	f.Add("Version:          VyOS 1.4.0\nRelease train:    sagitta\n")
	f.Add("Version:          VyOS 1.5-rolling-202501010000\n")
	f.Add("Welcome to VyOS\nVersion: VyOS\n")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := PlatformFromShowVersion(s)
		if err == nil && !info.Platform.Valid() {
			t.Fatalf("invalid platform %q without error", info.Platform)
		}
	})
}

func FuzzPlatformFromVyOSVersion(f *testing.F) {
	f.Add("1.3.8")
	f.Add("1.5-stream-2025-Q1")
	f.Add("999999999999999999999.1")
	f.Fuzz(func(t *testing.T, s string) {
		info, err := PlatformFromVyOSVersion(s)
		if err == nil && !info.Platform.Valid() {
			t.Fatalf("invalid platform %q without error", info.Platform)
		}
	})
}

func FuzzParseBootScriptOutput(f *testing.F) {
	f.Add(markPresent + "\n" + markExecutable + "\n" + markContent + "\n#!/bin/sh\nip route replace default via 198.51.100.254 dev eth2\n")
	f.Add(markContent + "\n")
	f.Add("Welcome\n" + markPresent + "\n")
	f.Fuzz(func(t *testing.T, out string) {
		bs, err := parseBootScriptOutput("/config/scripts/vyatta-postconfig-bootup.script", out)
		if err != nil {
			return
		}
		if !bs.Present && (bs.Content != "" || bs.Executable && !strings.Contains(out, markExecutable)) {
			t.Fatalf("absent script with content or a mode: %+v", bs)
		}
	})
}

// Whatever the router's boot script holds, merging the managed block makes
// the block readable back, at the latest after a second merge (a dangling
// BEGIN line left by a hand edit is absorbed by the first), and a script
// without markers keeps its content.
func FuzzMergeBootScript(f *testing.F) {
	block := bootScriptBlock([]Route{{Dst: "198.51.100.254", Dev: "eth2", Scope: "link"}, {Dst: "default", Gateway: "198.51.100.254", Dev: "eth2"}})
	f.Add("#!/bin/sh\n# user's own\n/usr/local/bin/fan-control &\n")
	f.Add("")
	f.Add(BootScriptBegin + "\nip route replace default dev eth2\n" + BootScriptEnd + "\nafter\n")
	f.Add("x\n" + BootScriptBegin + "\nno end\n")
	f.Fuzz(func(t *testing.T, existing string) {
		merged := MergeBootScript(existing, block)
		if got, ok := ExtractBootScriptBlock(merged); !ok || got != block {
			merged = MergeBootScript(merged, block)
		}
		if got, ok := ExtractBootScriptBlock(merged); !ok || got != block {
			t.Fatalf("block not found after two merges:\n%s", merged)
		}
		if !strings.Contains(existing, BootScriptBegin) && strings.TrimSpace(existing) != "" && !strings.HasPrefix(merged, existing) {
			t.Fatalf("the script's own content was not kept:\n%q\n%q", existing, merged)
		}
	})
}

// Commit (and save) output: markers are always removed from the text shown
// to humans, and a failure is either the lock (Conflict) or a refusal.
func FuzzCommitOutput(f *testing.F) {
	f.Add("\n[ nat source rule 10 ]\nSource NAT configuration error in rule 10\n\n[[nat]] failed\nCommit failed\n" + markCommitStatus + "1\n" + markSessionChange + "\n")
	f.Add(markCommitStatus + "0\n")
	f.Add("Configuration system temporarily locked due to another commit in progress\n" + markCommitStatus + "x\n")
	f.Fuzz(func(t *testing.T, out string) {
		text, _, _, _ := stripMarkers(out, markCommitStatus)
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, markCommitStatus) || l == markSessionChange {
				t.Fatalf("marker left in %q", text)
			}
		}
		_ = commitFailed(text)
		switch k := cause.KindOf(commitError("Apply", text)); k {
		case cause.Conflict, cause.Invalid:
		default:
			t.Fatalf("commit failure classified %q", k)
		}
	})
}

// replyRT answers every request with one canned HTTP reply.
type replyRT struct {
	status int
	body   []byte
}

func (r replyRT) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: r.status, Header: http.Header{"Content-Type": {"text/html"}},
		Body: io.NopCloser(bytes.NewReader(r.body)), Request: req}, nil
}

// Any HTTP reply, through every API operation: no panic, and a write is only
// reported done on a 200 whose envelope says success.
func FuzzAPIReply(f *testing.F) {
	f.Add(200, `{"success": true, "data": {"interfaces": {"ethernet": {"eth1": {"address": "10.0.10.254/24"}}}}, "error": null}`)
	f.Add(200, `{"success": true, "data": "default via 198.51.100.254 dev eth2 proto static metric 20 onlink\n", "error": null}`)
	f.Add(400, `{"success": false, "data": null, "error": "Configuration system temporarily locked due to another commit in progress"}`)
	f.Add(200, "<html><body>502 Bad Gateway</body></html>")
	f.Add(502, "")
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 599 {
			return
		}
		base, _ := url.Parse("https://router.invalid")
		newDriver := func(p Platform) *apiDriver {
			return &apiDriver{base: base, creds: APICredentials{Key: "k"}, info: PlatformInfo{Platform: p},
				hc: &http.Client{Transport: replyRT{status, []byte(body)}}}
		}
		ctx := context.Background()
		d := newDriver(VyOS14)
		_, _ = d.ReadConfig(ctx, []Path{{"interfaces"}, {"nat"}})
		_, _ = d.Routes(ctx)
		_, _ = d.Neighbours(ctx, "eth2")
		_, _ = newDriver("").Probe(ctx)
		var env struct {
			Success bool `json:"success"`
		}
		succeeded := status == http.StatusOK && json.Unmarshal([]byte(body), &env) == nil && env.Success
		tx := Transaction{{Kind: OpSet, Path: Path{"interfaces", "ethernet", "eth1", "address", "10.0.10.254/24"}}}
		if err := d.Apply(ctx, tx); err == nil && !succeeded {
			t.Fatalf("Apply reported success for HTTP %d %q", status, body)
		}
		if err := d.Save(ctx); err == nil && !succeeded {
			t.Fatalf("Save reported success for HTTP %d %q", status, body)
		}
		if err := d.FlushNeighbours(ctx, "eth2"); err == nil && !succeeded {
			t.Fatalf("FlushNeighbours reported success for HTTP %d %q", status, body)
		}
	})
}

// Secrets: parsing never panics, and an error never depends on (so never
// shows) the password or API key's value.
func FuzzCredentialsFromSecret(f *testing.F) {
	f.Add("vyos", "s3cret-password", "", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDvkhlFW1bEZQoCnXXu1Dj3WKyZmHTLLfoj7S6mFcJXT", "api-key", "")
	f.Add("", "x", "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n", "garbage", "", "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
	f.Fuzz(func(t *testing.T, user, password, privateKey, hostKey, apiKey, ca string) {
		ssh := func(pw string) string {
			_, err := SSHCredentialsFromSecret(map[string][]byte{SecretUsername: []byte(user), SecretPassword: []byte(pw),
				SecretPrivateKey: []byte(privateKey), SecretHostKey: []byte(hostKey)})
			if err == nil {
				return ""
			}
			return err.Error()
		}
		if password != "" && ssh(password) != ssh(password+"-other") {
			t.Fatalf("the SSH credentials error depends on the password: %q", ssh(password))
		}
		api := func(key string) string {
			_, err := APICredentialsFromSecret(map[string][]byte{SecretAPIKey: []byte(key), SecretCACert: []byte(ca)})
			if err == nil {
				return ""
			}
			return err.Error()
		}
		if strings.TrimSpace(apiKey) != "" && api(apiKey) != api(apiKey+"-other") {
			t.Fatalf("the API credentials error depends on the key: %q", api(apiKey))
		}
	})
}

func FuzzParseNDPProxies(f *testing.F) {
	f.Add("2001:db8:1:1:1::11 dev eth2 proxy \n2001:db8:1:1:1::10 dev eth2 proxy \n")
	f.Add("2001:db8:1:1:1::11 proxy \n")
	f.Add("")
	f.Fuzz(func(t *testing.T, out string) {
		addrs, err := ParseNDPProxies(out)
		if err != nil {
			return
		}
		// What it read prints back as a listing it reads the same way.
		var b strings.Builder
		for _, a := range addrs {
			b.WriteString(a + " proxy \n")
		}
		again, err := ParseNDPProxies(b.String())
		if err != nil || strings.Join(again, ",") != strings.Join(addrs, ",") {
			t.Fatalf("%q read as %v, printed back read as %v (%v)", out, addrs, again, err)
		}
	})
}
