package router

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

func hostKeyLine(t *testing.T) (string, ssh.PublicKey) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), k
}

func TestSSHCredentialsFromSecret(t *testing.T) {
	line, key := hostKeyLine(t)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	privPEM := pem.EncodeToMemory(block)

	c, err := SSHCredentialsFromSecret(map[string][]byte{
		"username": []byte("vyos"), "password": []byte("hunter2-secret"),
		// known_hosts format, with a comment line, as ssh-keyscan prints it
		"hostKey": []byte("# router\n[192.0.2.1]:22 " + line + "\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.HostKeys) != 1 || string(c.HostKeys[0].Marshal()) != string(key.Marshal()) {
		t.Fatal("known_hosts host key not parsed")
	}
	if strings.Contains(c.String(), "hunter2") {
		t.Fatal("String() shows the password")
	}
	c, err = SSHCredentialsFromSecret(map[string][]byte{"username": []byte("vyos"), "privateKey": privPEM, "hostKey": []byte(line)})
	if err != nil || c.Signer == nil {
		t.Fatalf("private key: %v", err)
	}

	bad := map[string]map[string][]byte{
		"no username":           {"password": []byte("p"), "hostKey": []byte(line)},
		"no password nor key":   {"username": []byte("vyos"), "hostKey": []byte(line)},
		"no host key":           {"username": []byte("vyos"), "password": []byte("hunter2-secret")},
		"garbage host key":      {"username": []byte("vyos"), "password": []byte("p"), "hostKey": []byte("not a key hunter2-secret")},
		"garbage private key":   {"username": []byte("vyos"), "privateKey": []byte("-----BEGIN hunter2-secret"), "hostKey": []byte(line)},
		"insecure flag garbage": {"username": []byte("vyos"), "password": []byte("p"), "insecureSkipHostKeyVerification": []byte("yes")},
	}
	for name, data := range bad {
		_, err := SSHCredentialsFromSecret(data)
		if cause.KindOf(err) != cause.Invalid {
			t.Errorf("%s: got %v, want Invalid", name, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows a secret: %v", name, err)
		}
	}
	// The opt-out must be explicit.
	c, err = SSHCredentialsFromSecret(map[string][]byte{"username": []byte("vyos"), "password": []byte("p"), "insecureSkipHostKeyVerification": []byte("true")})
	if err != nil || !c.InsecureSkipHostKey {
		t.Fatalf("explicit opt-out refused: %v", err)
	}
}

func TestAPICredentialsFromSecret(t *testing.T) {
	if _, err := APICredentialsFromSecret(map[string][]byte{}); cause.KindOf(err) != cause.Invalid {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := APICredentialsFromSecret(map[string][]byte{"apiKey": []byte("k"), "ca.crt": []byte("not pem")}); cause.KindOf(err) != cause.Invalid {
		t.Fatalf("bad ca.crt: %v", err)
	}
	c, err := APICredentialsFromSecret(map[string][]byte{"apiKey": []byte(" k \n"), "insecureSkipTLSVerify": []byte("true")})
	if err != nil || c.Key != "k" || !c.InsecureSkipTLSVerify {
		t.Fatalf("%+v %v", c, err)
	}
	if strings.Contains(c.String(), "k\"") {
		t.Fatal("String() shows the key")
	}
}

func TestKeyedMutexSerialisesPerRouter(t *testing.T) {
	km := keyedMutex{m: map[string]chan struct{}{}}
	ctx := context.Background()
	unlock, err := km.lock(ctx, "192.0.2.1", "Apply")
	if err != nil {
		t.Fatal(err)
	}
	// Another router is independent.
	other, err := km.lock(ctx, "192.0.2.2", "Apply")
	if err != nil {
		t.Fatal(err)
	}
	other()
	// The same router waits; a caller whose context ends gets Conflict.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := km.lock(short, "192.0.2.1", "Apply"); cause.KindOf(err) != cause.Conflict {
		t.Fatalf("got %v, want Conflict", err)
	}
	var wg sync.WaitGroup
	got := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		u, err := km.lock(ctx, "192.0.2.1", "Apply")
		if err == nil {
			close(got)
			u()
		}
	}()
	select {
	case <-got:
		t.Fatal("second holder got the lock while the first held it")
	default:
	}
	unlock()
	wg.Wait()
	select {
	case <-got:
	default:
		t.Fatal("waiter never got the lock")
	}
}
