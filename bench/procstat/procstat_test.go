package procstat

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// comm may contain spaces and parentheses; fields count from the last ')'.
	line := "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 0 0\n"
	got, err := parseStat([]byte(line))
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStat = %v, %v; want 3s", got, err)
	}
	if _, err := parseStat([]byte("garbage")); err == nil {
		t.Fatal("no error for garbage")
	}
}

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	if _, err := CPU(pid); err != nil {
		t.Fatal(err)
	}
	rss, hwm, err := Memory(pid)
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("rss %d hwm %d err %v", rss, hwm, err)
	}
	m := Start([]Target{{Name: "self", PID: pid, Reset: true}})
	u := m.Stop()["self"]
	if u.PeakKB <= 0 {
		t.Fatalf("usage %+v", u)
	}
}
