package devcerts

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEnsureKeepsWhatIsValid: a second Ensure keeps the files (a running
// stack's certificates stay good), a missing key makes a new set.
func TestEnsureKeepsWhatIsValid(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Ensure(dir, Suite))
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NoError(t, err)
	require.NoError(t, Ensure(dir, Suite))
	again, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.Equal(t, ca, again, "kept")
	info, err := os.Stat(filepath.Join(dir, "user-key.pem"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	require.NoError(t, os.Remove(filepath.Join(dir, "dtm-key.pem")))
	require.NoError(t, Ensure(dir, Suite))
	renewed, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	require.NotEqual(t, ca, renewed, "made anew")
}

// TestSplitHoldsOnlyOwnKeys: each identity's directory has the CA's
// certificate and its own key (etcd also root's), never the CA's key.
func TestSplitHoldsOnlyOwnKeys(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, Ensure(dir, Suite))
	require.NoError(t, Split(dir, Suite))
	for _, id := range Suite {
		entries, err := os.ReadDir(filepath.Join(dir, id.Name))
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		want := []string{"ca.pem"}
		for _, h := range Held(id.Name) {
			want = append(want, h+".pem", h+"-key.pem")
		}
		slices.Sort(want)
		require.Equal(t, want, names, id.Name)
		on, err := Conf(filepath.Join(dir, id.Name), id.Name).Enabled()
		require.NoError(t, err)
		require.True(t, on)
		_, err = Conf(filepath.Join(dir, id.Name), id.Name).ClientCreds("x")
		require.NoError(t, err, "%s: a usable certificate", id.Name)
	}
	require.Equal(t, []string{"etcd", "root"}, Held("etcd"))
}
