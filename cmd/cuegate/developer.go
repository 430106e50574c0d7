package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cuegate/cuegate/portal"
	"github.com/cuegate/cuegate/portal/store"
)

func init() {
	register(command{"developer", "add, list or remove portal developer accounts", runDeveloper})
}

const developerUsage = `usage:
  cuegate developer add    --state FILE [--password-file FILE] EMAIL
  cuegate developer list   --state FILE
  cuegate developer remove --state FILE EMAIL

add reads the password from --password-file, else from the first line of
standard input. remove also revokes the developer's clients at the gateway
(their registrations at the identity provider remain).
The state file is locked while cuegate serve runs on it: stop it first.`

func runDeveloper(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, developerUsage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	sub := args[0]
	fs := flag.NewFlagSet("developer "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, developerUsage) }
	state := fs.String("state", "", "the portal's state file")
	var passwordFile *string
	if sub == "add" {
		passwordFile = fs.String("password-file", "", "read the password from this file instead of standard input")
	}
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	switch {
	case sub != "add" && sub != "list" && sub != "remove":
		fmt.Fprintf(stderr, "cuegate developer: unknown subcommand %q\n%s\n", sub, developerUsage)
		return exitUsage
	case *state == "" || len(rest) != wantArgs:
		fs.Usage()
		return exitUsage
	}

	var email string
	if wantArgs == 1 {
		if email, err = portal.NormaliseEmail(rest[0]); err != nil {
			fmt.Fprintln(stderr, "cuegate developer:", err)
			return exitInvalid
		}
	}
	var hash string
	if sub == "add" { // check the password before touching the state file
		pw, err := readPassword(*passwordFile)
		if err != nil {
			fmt.Fprintln(stderr, "cuegate developer:", err)
			return exitUsage
		}
		if hash, err = portal.HashPassword(pw, 0); err != nil {
			fmt.Fprintln(stderr, "cuegate developer:", err)
			return exitInvalid
		}
	}

	st, err := store.Open(*state)
	if err != nil {
		fmt.Fprintln(stderr, "cuegate developer:", err)
		return exitUsage
	}
	defer st.Close()

	switch sub {
	case "add":
		err = st.AddDeveloper(store.Developer{Email: email, PasswordHash: hash, Created: time.Now().UTC()})
		if err == nil {
			fmt.Fprintf(stdout, "added developer %s\n", email)
		}
	case "list":
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tCREATED\tCLIENTS")
		for _, d := range st.Developers() {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", d.Email, d.Created.UTC().Format(time.RFC3339), len(st.Clients(d.Email)))
		}
		tw.Flush()
	case "remove":
		var revoked []store.Client
		revoked, err = st.RemoveDeveloper(email, time.Now().UTC())
		if err == nil {
			fmt.Fprintf(stdout, "removed developer %s\n", email)
			for _, c := range revoked {
				fmt.Fprintf(stdout, "revoked client %s (%s); it remains registered at the %s provider\n", c.ClientID, c.ClientName, c.Provider)
			}
		}
	}
	switch {
	case errors.Is(err, store.ErrExists), errors.Is(err, store.ErrNotFound):
		fmt.Fprintln(stderr, "cuegate developer:", err)
		return exitInvalid
	case err != nil:
		fmt.Fprintln(stderr, "cuegate developer:", err)
		return exitUsage
	}
	return exitOK
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
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
