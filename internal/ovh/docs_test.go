package ovh_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

// The README and the sample Secret list the same access rules as
// ovh.AccessRules, the list `manager ovh-credentials` requests.
func TestDocsListTheAccessRules(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, found := strings.Cut(string(readme), "<!-- ovh-access-rules")
	if !found {
		t.Fatal("README has no ovh-access-rules block")
	}
	_, block, _ = strings.Cut(block, "```\n")
	block, _, _ = strings.Cut(block, "```")
	var want []string
	for _, r := range ovh.AccessRules {
		want = append(want, r.String())
	}
	if got := strings.Split(strings.TrimSpace(block), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README lists\n%s\nwant ovh.AccessRules\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	sample, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "secrets.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, line := range strings.Split(string(sample), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		for _, m := range []string{"GET ", "POST ", "PUT ", "DELETE "} {
			if strings.HasPrefix(line, m) && strings.HasPrefix(strings.TrimPrefix(line, m), "/") {
				listed = append(listed, line)
			}
		}
	}
	if strings.Join(listed, "\n") != strings.Join(want, "\n") {
		t.Errorf("config/samples/secrets.yaml lists\n%s\nwant\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}
}
