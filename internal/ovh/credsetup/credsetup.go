// Package credsetup is the `manager ovh-credentials` command: it asks OVH
// for a consumer key granted exactly the calls the operator makes
// (ovh.AccessRules), prints the URL where the account owner validates it,
// and the Secret a FailoverIP's spec.ovh.credentialsSecretRef names.
package credsetup

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	govh "github.com/ovh/go-ovh/ovh"
	"sigs.k8s.io/yaml"

	"github.com/ovhbridge/ovhbridge-operator/internal/ovh"
)

// Command is the subcommand's name.
const Command = "ovh-credentials"

// Main runs the command with args (after the subcommand's name). The Secret
// goes to stdout, so that `manager ovh-credentials ... > secret.yaml` keeps
// it apart from the instructions, which go to stderr. It returns the exit
// status.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(Command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", ovh.DefaultEndpoint, "OVH API endpoint: ovh-eu, ovh-ca, ovh-us, soyoustart-eu, soyoustart-ca, kimsufi-eu, kimsufi-ca, or a URL")
	appKey := fs.String("application-key", "", "the application key (create an application at https://eu.api.ovh.com/createApp/ or your endpoint's equivalent)")
	appSecret := fs.String("application-secret", "", "the application secret (default: $OVH_APPLICATION_SECRET, which keeps it out of shell history)")
	name := fs.String("secret-name", "ovh-credentials", "name of the Secret to print")
	namespace := fs.String("namespace", "default", "namespace of the Secret (that of the FailoverIPs using it)")
	redirection := fs.String("redirection", "", "URL OVH sends the browser to once the key is validated (optional)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: manager %s --endpoint ovh-eu --application-key AK --application-secret AS\n\n", Command)
		fmt.Fprintln(stderr, "Requests an OVH consumer key granted exactly the calls the operator makes:")
		for _, r := range ovh.AccessRules {
			fmt.Fprintf(stderr, "  %s\n", r)
		}
		fmt.Fprintln(stderr, "prints the URL where the account owner validates it, and the Secret to apply.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *appSecret == "" {
		*appSecret = strings.TrimSpace(os.Getenv("OVH_APPLICATION_SECRET"))
	}
	if *appKey == "" || *appSecret == "" {
		fmt.Fprintln(stderr, "ovh-credentials: --application-key and --application-secret (or $OVH_APPLICATION_SECRET) are required")
		fs.Usage()
		return 2
	}
	base, err := ovh.EndpointURL(*endpoint)
	if err != nil {
		fmt.Fprintf(stderr, "ovh-credentials: %v\n", err)
		return 2
	}

	api := &govh.Client{AppKey: *appKey, AppSecret: *appSecret, Client: &http.Client{Timeout: 30 * time.Second}}
	if err := api.SetEndpoint(base); err != nil {
		fmt.Fprintf(stderr, "ovh-credentials: %v\n", err)
		return 2
	}
	req := api.NewCkRequestWithRedirection(*redirection)
	for _, r := range ovh.AccessRules {
		req.AddRule(r.Method, r.Path)
	}
	state, err := req.Do()
	if err != nil {
		fmt.Fprintf(stderr, "ovh-credentials: OVH refused the request for a consumer key: %v\n", err)
		return 1
	}

	secret := map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"type":       "Opaque",
		"metadata":   map[string]string{"name": *name, "namespace": *namespace},
		"stringData": map[string]string{
			ovh.SecretEndpoint:          *endpoint,
			ovh.SecretApplicationKey:    *appKey,
			ovh.SecretApplicationSecret: *appSecret,
			ovh.SecretConsumerKey:       state.ConsumerKey,
		},
	}
	out, err := yaml.Marshal(secret)
	if err != nil {
		fmt.Fprintf(stderr, "ovh-credentials: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "1. Open this URL, log in as the OVH account that owns the servers and IPs, and accept (validity: unlimited):\n\n   %s\n\n", state.ValidationURL)
	fmt.Fprintln(stderr, "   The consumer key is granted exactly:")
	for _, r := range ovh.AccessRules {
		fmt.Fprintf(stderr, "     %s\n", r)
	}
	fmt.Fprintf(stderr, "\n2. Apply the Secret (printed on stdout), e.g. manager %s ... | kubectl apply -f -\n", Command)
	fmt.Fprintf(stderr, "   and name it in each FailoverIP's spec.ovh.credentialsSecretRef.\n")
	fmt.Fprintln(stderr, "   Until step 1 is done, FailoverIPs report Synced=False, CredentialsInvalid (INVALID_CREDENTIAL).")
	_, _ = stdout.Write(append([]byte("---\n"), out...))
	return 0
}
