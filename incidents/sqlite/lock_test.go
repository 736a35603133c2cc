package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second Open of a database in use fails with a message naming the
// holder; once the first closes, the database opens again.
func TestSecondOpenOfADatabaseFailsUntilTheFirstCloses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runbot.db")
	first, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Open(ctx, path, Options{})
	if err == nil {
		second.Close()
		t.Fatal("a second Open of the same database succeeded")
	}
	want := fmt.Sprintf("another runbot (pid %d) is using runbot.db; stop it or point --db elsewhere", os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("second Open: %v, want it to say %q", err, want)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.PID != os.Getpid() {
		t.Fatalf("second Open: %#v is not a *LockedError of pid %d", err, os.Getpid())
	}
	if pid, held := Holder(path); !held || pid != os.Getpid() {
		t.Fatalf("Holder = %d, %v while open, want %d, true", pid, held, os.Getpid())
	}
	// A command beside the running runbot still opens it.
	beside, err := Open(Beside(ctx), path, Options{})
	if err != nil {
		t.Fatalf("Open beside a running runbot: %v", err)
	}
	if err := beside.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, held := Holder(path); held {
		t.Fatal("Holder says the database is held after Close")
	}
	again, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open after the first closed: %v", err)
	}
	again.Close()
}

// A runbot killed with SIGKILL never closes its database: the next one
// must start anyway.
func TestCrashedHolderDoesNotBlockTheNextOpen(t *testing.T) {
	if path := os.Getenv("RUNBOT_TEST_LOCK_HOLDER"); path != "" {
		// The child: hold the database until killed.
		if _, err := Open(context.Background(), path, Options{}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("open")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	path := filepath.Join(t.TempDir(), "runbot.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashedHolderDoesNotBlockTheNextOpen$")
	cmd.Env = append(os.Environ(), "RUNBOT_TEST_LOCK_HOLDER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "open" {
		t.Fatalf("child: %q, %v", line, err)
	}
	_, err = Open(context.Background(), path, Options{})
	want := fmt.Sprintf("another runbot (pid %d) is using runbot.db", cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open while the child holds it: %v, want %q", err, want)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	db, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	db.Close()
}
