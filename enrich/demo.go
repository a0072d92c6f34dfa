package enrich

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gannet-sec/gannet/enrich/intel/demo"
)

// demoFile writes the embedded demo feed to a content-named file in the
// temporary directory (once) and returns its path.
func demoFile() (string, error) {
	sum := sha256.Sum256(demo.Text)
	p := filepath.Join(os.TempDir(), "gannet-demo-intel-"+hex.EncodeToString(sum[:6])+".txt")
	if b, err := os.ReadFile(p); err == nil && string(b) == string(demo.Text) {
		return p, nil
	}
	tmp, err := os.CreateTemp(os.TempDir(), "gannet-demo-intel-*")
	if err != nil {
		return "", fmt.Errorf("enrich: demo feed: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(demo.Text); err != nil {
		tmp.Close()
		return "", fmt.Errorf("enrich: demo feed: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("enrich: demo feed: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("enrich: demo feed: %w", err)
	}
	return p, nil
}
