package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cuegate/cuegate/internal/printable"
	"github.com/cuegate/cuegate/portal"
	"github.com/cuegate/cuegate/portal/store"
)

func init() {
	register(command{"developer", "add, list or remove portal developer accounts", runDeveloper})
}

const developerUsage = `usage:
  cuegate developer add    (--state FILE | --admin ADDR) [--password-file FILE] EMAIL
  cuegate developer list   (--state FILE | --admin ADDR)
  cuegate developer remove (--state FILE | --admin ADDR) EMAIL

--state changes the state file itself, which cuegate serve locks while it
runs; list only reads it, and works meanwhile. --admin changes it through
the running node instead: ADDR is the node's admin_listen address (e.g.
127.0.0.1:9090), whose /portal/ endpoints do the same; keep that address
private, as the password travels to it. When the node has a
gateway.admin_token, --admin-token-file FILE (or the environment variable
CUEGATE_ADMIN_TOKEN) gives it.
add reads the password from --password-file, else from the first line of
standard input, and creates the state file when there is none; list and
remove refuse a --state file that does not exist, and list takes no lock
and writes nothing (an older file is migrated by the first change).
remove also revokes the developer's clients at the gateway (their
registrations at the identity provider remain).`

// developerCommand is one subcommand of cuegate developer. Each shares
// the account plumbing (--state or --admin, developerAccounts) and adds
// its own arguments, flags and action.
type developerCommand struct {
	name string
	// email: the subcommand takes one positional argument, EMAIL,
	// normalised before the accounts are opened.
	email bool
	// state is what the subcommand does with a --state file.
	state stateUse
	// flags, when set, registers the subcommand's own flags on fs and
	// returns what completes the request from them once parsed.
	flags func(fs *flag.FlagSet) func(*developerRequest) error
	run   func(accounts developerAccounts, req developerRequest, stdout io.Writer) error
}

// developerRequest is what a developer subcommand acts on.
type developerRequest struct {
	email    string // normalised; "" when the subcommand takes none
	password string // add's
}

// developerCommands are cuegate developer's subcommands.
var developerCommands = []developerCommand{
	{name: "add", email: true, state: createsState, flags: passwordFlag, run: addDeveloper},
	{name: "list", state: readsState, run: listDevelopers},
	{name: "remove", email: true, state: changesState, run: removeDeveloper},
}

func runDeveloper(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, developerUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	i := slices.IndexFunc(developerCommands, func(c developerCommand) bool { return c.name == args[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "cuegate developer: unknown subcommand %q\n%s\n", args[0], developerUsage)
		return exitUsage
	}
	return developerCommands[i].exec(args[1:], stdout, stderr)
}

// exec parses args, opens the accounts and runs c.
func (c developerCommand) exec(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("developer "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, developerUsage) }
	state := fs.String("state", "", "the portal's state file")
	admin := fs.String("admin", "", "the admin_listen address of the cuegate serve that holds the state file")
	adminTokenFile := fs.String("admin-token-file", "", "with --admin: read the node's admin_token from this file (default: $CUEGATE_ADMIN_TOKEN)")
	complete := func(*developerRequest) error { return nil }
	if c.flags != nil {
		complete = c.flags(fs)
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return parseExit(err)
	}
	wantArgs := 0
	if c.email {
		wantArgs = 1
	}
	if (*state == "") == (*admin == "") || len(rest) != wantArgs {
		fs.Usage()
		return exitUsage
	}

	var req developerRequest
	if c.email {
		if req.email, err = portal.NormaliseEmail(rest[0]); err != nil {
			printError(stderr, "cuegate developer:", err)
			return exitInvalid
		}
	}
	if err := complete(&req); err != nil {
		printError(stderr, "cuegate developer:", err)
		return exitUsage
	}

	accounts, done, err := openAccounts(*state, *admin, *adminTokenFile, c.state)
	if err != nil {
		printError(stderr, "cuegate developer:", err)
		if errors.Is(err, store.ErrLocked) {
			fmt.Fprintln(stderr, "cuegate developer: while cuegate serve runs on the state file, pass --admin with its admin_listen address (e.g. --admin 127.0.0.1:9090) instead of --state")
		}
		return exitUsage
	}
	defer done()
	err = c.run(accounts, req, stdout)
	switch {
	case errors.Is(err, portal.ErrInvalid), errors.Is(err, store.ErrExists), errors.Is(err, store.ErrNotFound):
		printError(stderr, "cuegate developer:", err)
		return exitInvalid
	case err != nil:
		printError(stderr, "cuegate developer:", err)
		return exitUsage
	}
	return exitOK
}

// passwordFlag is add's --password-file: the password is read from it,
// else from standard input.
func passwordFlag(fs *flag.FlagSet) func(*developerRequest) error {
	file := fs.String("password-file", "", "read the password from this file instead of standard input")
	return func(req *developerRequest) (err error) {
		req.password, err = readPassword(*file)
		return err
	}
}

func addDeveloper(accounts developerAccounts, req developerRequest, stdout io.Writer) error {
	acc, err := accounts.Add(req.email, req.password)
	if err == nil {
		fmt.Fprintf(stdout, "added developer %s\n", printable.Escape(acc.Email))
	}
	return err
}

func listDevelopers(accounts developerAccounts, _ developerRequest, stdout io.Writer) error {
	list, err := accounts.List()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tCREATED\tCLIENTS")
	for _, a := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", printable.Escape(a.Email), a.Created.UTC().Format(time.RFC3339), a.Clients)
	}
	tw.Flush() //nolint:errcheck // stdout, as every other line of output
	return nil
}

func removeDeveloper(accounts developerAccounts, req developerRequest, stdout io.Writer) error {
	rm, err := accounts.Remove(req.email)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed developer %s\n", printable.Escape(rm.Email))
	for _, c := range rm.Revoked {
		fmt.Fprintf(stdout, "revoked client %s (%s); it remains registered at the %s provider\n",
			printable.Escape(c.ClientID), printable.Escape(c.ClientName), printable.Escape(c.Provider))
	}
	return nil
}

// readPassword reads the first line of file, or of standard input when
// file is "".
func readPassword(file string) (string, error) {
	r := io.Reader(os.Stdin)
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password: give it on standard input or with --password-file")
	}
	return line, nil
}
