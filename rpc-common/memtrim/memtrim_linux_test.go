package memtrim

import (
	"crypto/sha256"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadOnlyRangesKeepsWritableAndOtherFiles(t *testing.T) {
	maps := []byte(`00400000-02000000 r-xp 00000000 fd:00 42 /srv/my service/user
02000000-04000000 r--p 01c00000 fd:00 42 /srv/my service/user
04000000-04100000 rw-p 03c00000 fd:00 42 /srv/my service/user
04100000-06000000 rw-p 00000000 00:00 0
7f0000000000-7f0000100000 r-xp 00000000 fd:00 7 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000200000-7f0000300000 r--s 00000000 fd:00 42 /srv/my service/user
`)
	got, err := readOnlyRanges(maps, "/srv/my service/user")
	require.NoError(t, err)
	require.Equal(t, []mapping{{0x400000, 0x2000000}, {0x2000000, 0x4000000}}, got,
		"only the private read-only mappings of the executable: not its data, not the heap, not libc, not a shared mapping")

	_, err = readOnlyRanges([]byte("zz-yy r-xp 0 fd:00 42 /x\n"), "/x")
	require.Error(t, err)
}

func TestTrimReleasesExecutablePagesAndTheProcessGoesOn(t *testing.T) {
	before := fmt.Sprintf("%x", sha256.Sum256([]byte("memtrim")))
	r, err := Trim()
	require.NoError(t, err)
	require.GreaterOrEqual(t, r.Mappings, 2, "code and read-only data are separate mappings")
	exe, err := os.Executable()
	require.NoError(t, err)
	st, err := os.Stat(exe)
	require.NoError(t, err)
	require.LessOrEqual(t, r.Bytes, st.Size(), "only the executable's own mappings")
	require.Positive(t, r.RssFileBefore)
	require.Less(t, r.RssFileAfter, r.RssFileBefore, "the released pages left the resident set")

	// Code and constants come back on use, unchanged.
	require.Equal(t, before, fmt.Sprintf("%x", sha256.Sum256([]byte("memtrim"))))
	r2, err := Trim()
	require.NoError(t, err)
	require.Equal(t, r.Mappings, r2.Mappings)
}
