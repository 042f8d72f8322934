package ovh

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	govh "github.com/ovh/go-ovh/ovh"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// TestRealErrorBodies classifies the answers OVH really gives, each body as
// quoted from a real call (sources in test/sim/ovh/auth.go and beside each
// case), through the path every answer takes: go-ovh's decoding, ours,
// classify.
func TestRealErrorBodies(t *testing.T) {
	const queryID = "EU.ext-3.65e35d7b.2743956.409faf758b6080216e956063f7a5db1b"
	cases := []struct {
		name         string
		method, path string
		status       int
		body         string
		kind         cause.Kind
		transient    bool
		says         []string // all must appear in the message
	}{
		// github toorop/ovh-cli#10, baarde/cert-manager-webhook-ovh#5.
		{"deleted consumer key", "GET", "/ip?routedTo.serviceName=ns1", 403,
			`{"errorCode":"NOT_CREDENTIAL","httpCode":"403 Forbidden","message":"This credential does not exist"}`,
			cause.CredentialsInvalid, false, []string{"NOT_CREDENTIAL", "This credential does not exist", "manager ovh-credentials", "consumerKey"}},
		// github ovh/python-ovh#86, ovh/node-ovh#22; errorCode per python-ovh's client.py.
		{"call not granted", "GET", "/ip?routedTo.serviceName=ns1", 403,
			`{"errorCode":"NOT_GRANTED_CALL","httpCode":"403 Forbidden","message":"This call has not been granted"}`,
			cause.CredentialsInvalid, false, []string{"NOT_GRANTED_CALL", "lacks the access rule GET /ip:", "manager ovh-credentials"}},
		// github ovh/python-ovh#141 (2024): the text without the errorCode.
		{"call not granted, class only", "POST", "/dedicated/server/ns1/virtualMac/00:50:56:00:00:01/virtualAddress", 403,
			`{"class":"Client::Forbidden","message":"This call has not been granted"}`,
			cause.CredentialsInvalid, false, []string{"lacks the access rule POST /dedicated/server/*/virtualMac/*/virtualAddress:"}},
		// errorCode per python-ovh's client.py.
		{"unknown application key", "GET", "/ip", 403,
			`{"errorCode":"INVALID_KEY","httpCode":"403 Forbidden","message":"Invalid application key"}`,
			cause.CredentialsInvalid, false, []string{"INVALID_KEY", "applicationKey and endpoint"}},
		// github ovh/php-ovh#56.
		{"key not validated", "GET", "/ip", 403,
			`{"errorCode":"INVALID_CREDENTIAL","httpCode":"403 Forbidden","message":"This credential is not valid"}`,
			cause.CredentialsInvalid, false, []string{"INVALID_CREDENTIAL", "validation URL"}},
		// github ovh/php-ovh#62 (2017).
		{"wrong secret, 2017", "GET", "/ip", 400,
			`{"errorCode":"INVALID_SIGNATURE","httpCode":"400 Bad Request","message":"Invalid signature"}`,
			cause.CredentialsInvalid, false, []string{"Invalid signature", "applicationSecret"}},
		// github mlabouardy/komiser#1490 (2024).
		{"wrong secret, 2024", "GET", "/ip", 400,
			`{"class":"Client::BadRequest","message":"Invalid signature"}`,
			cause.CredentialsInvalid, false, []string{"Client::BadRequest", "applicationSecret"}},
		// github UrielCh/api-ovh-node, packages/core/src/index.ts: OVH answers
		// its own query time-out with a 400 that is worth retrying. No source
		// quotes the message: this one is invented, only the errorCode counts.
		{"query time-out", "GET", "/dedicated/server/ns1/virtualMac", 400,
			`{"errorCode":"QUERY_TIME_OUT","httpCode":"400 Bad Request","message":"Query timeout"}`,
			cause.Unreachable, true, []string{"QUERY_TIME_OUT"}},
		// github aureq/cert-manager-webhook-ovh#39.
		{"not found", "GET", "/dedicated/server/ns0/specifications/network", 404,
			`{"class":"Client::NotFound","message":"This service does not exist"}`,
			cause.NotFound, false, []string{"Client::NotFound", "This service does not exist"}},
		// github ovh/terraform-provider-ovh, website/docs/index.html.markdown.
		{"route the product line lacks", "GET", "/dedicated/server/ns1/virtualMac", 404,
			`{"class":"Client::NotFound","message":"Got an invalid (or empty) URL"}`,
			cause.CapabilityMissing, false, []string{"Got an invalid (or empty) URL", "Kimsufi"}},
		{"bad request", "POST", "/dedicated/server/ns1/virtualMac", 400,
			`{"class":"Client::BadRequest","message":"[ipAddress] Given data (203.0.113) is not valid for type ipv4"}`,
			cause.Invalid, false, []string{"Client::BadRequest", "[ipAddress]"}},
		// A refusal in the current state, whatever its (unpublished) text.
		{"forbidden change", "POST", "/ip/203.0.113.123%2F32/move", 403,
			`{"class":"Client::Forbidden","message":"There is some VMAC used and the destination server do not support VMAC"}`,
			cause.Conflict, false, []string{"Client::Forbidden"}},
		// go-ovh v1.9.0 error.go reads these IAM details.
		{"IAM policy", "POST", "/ip/203.0.113.123%2F32/move", 403,
			`{"class":"Client::Forbidden","message":"Access denied","details":{"unauthorizedActionsByIAM":"ip:apiovh:move"}}`,
			cause.CredentialsInvalid, false, []string{"Access denied"}},
		{"rate limited", "GET", "/ip", 429,
			`{"class":"Client::TooManyRequests","message":"Too many requests"}`,
			cause.RateLimited, true, []string{"HTTP 429"}},
		{"rate limited, HTML", "GET", "/ip", 429,
			"<html><head><title>429 Too Many Requests</title></head><body>nginx</body></html>",
			cause.RateLimited, true, []string{"429 Too Many Requests"}},
		{"bad gateway page", "GET", "/ip", 502,
			"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
			cause.Unreachable, true, []string{"502 Bad Gateway"}},
		{"unavailable page", "POST", "/ip/203.0.113.123%2F32/move", 503,
			"<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body>maintenance</body></html>",
			cause.Unreachable, true, []string{"503 Service Unavailable"}},
		{"gateway time-out page", "GET", "/ip", 504,
			"<html><head><title>504 Gateway Time-out</title></head><body></body></html>",
			cause.Unreachable, true, []string{"504 Gateway Time-out"}},
		// github ovh/python-ovh#47 quotes an OVH 5xx message.
		{"internal error", "GET", "/ip", 500,
			`{"class":"Server::InternalServerError","message":"Internal server error"}`,
			cause.Unreachable, true, []string{"Server::InternalServerError"}},
	}
	api, err := govh.NewClient("https://eu.api.ovh.com/1.0", "app", "secret", "consumer")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "https://eu.api.ovh.com/1.0"+tc.path, nil)
			resp := &http.Response{
				StatusCode: tc.status,
				Header:     http.Header{"X-Ovh-Queryid": {queryID}},
				Body:       io.NopCloser(bytes.NewReader([]byte(tc.body))),
				Request:    req,
			}
			err := decodeResponse(api, resp, []byte(tc.body), nil)
			if remote, ok := err.(*remoteError); ok { // as apiClient.do does
				remote.method, remote.apiPath = tc.method, tc.path
			}
			got := classify("Test", err)
			if cause.KindOf(got) != tc.kind {
				t.Fatalf("kind of %v = %s, want %s", got, cause.KindOf(got), tc.kind)
			}
			if transient(got) != tc.transient {
				t.Errorf("transient(%v) = %v, want %v", got, transient(got), tc.transient)
			}
			msg := got.Error()
			for _, s := range append(tc.says, "query id "+queryID) {
				if !strings.Contains(msg, s) {
					t.Errorf("%q does not say %q", msg, s)
				}
			}
			if strings.Contains(msg, "<") {
				t.Errorf("%q quotes an HTML page", msg)
			}
		})
	}
}
