// Command arcache reads and writes arcache bin files, the files in which
// a SlugCache keeps its images between runs.
//
// Usage:
//
//	arcache inspect FILE       list each entry's key, image type, bounds and bytes
//	arcache verify FILE        check every record; exit status 1 on damage
//	arcache export FILE DIR    write each entry as DIR/<key>.png
//	arcache import DIR FILE    add the images in DIR to FILE, as Refresh reads them
//
// FILE may be "-" for standard input, except as the output of import.
// Errors go to standard error, prefixed "arcache: ", with exit status 1.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err != nil {
		fmt.Fprintln(stderr, "arcache:", err)
		switch {
		case cmd == root: // no such command, or a bad flag
			fmt.Fprintln(stderr, "Run 'arcache --help' for usage.")
		case !cmd.SilenceUsage: // a mistyped command line
			fmt.Fprint(stderr, cmd.UsageString())
		}
		return 1
	}
	return 0
}

// newRootCmd returns the arcache command and its subcommands. Execute
// returns errors without printing them, and prints no usage text, so that
// run can print both to standard error with the program's prefix.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "arcache",
		Short: "Inspect, check, export and build arcache bin files",
		Long: `arcache reads and writes the bin files in which an arcache SlugCache keeps
its images between runs (its bin_file setting): it lists their entries,
checks them, writes their images out as PNG files, and builds them from a
folder of images by the rules the cache's Refresh follows.

Every command exits with status 1 on an error, which it reports on
standard error.`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// Past the arguments, an error is the file's, not the user's
		// typing: run prints no usage text for it.
		PersistentPreRun: func(cmd *cobra.Command, _ []string) { cmd.SilenceUsage = true },
	}
	root.AddCommand(newInspectCmd(), newVerifyCmd(), newExportCmd(), newImportCmd())
	return root
}

// version is the module version the binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// causeError is an error of package arcache with its "arcache: <op>"
// prefix dropped, for a message that already names the command and file.
type causeError struct {
	msg string
	err error
}

func (e *causeError) Error() string { return e.msg }
func (e *causeError) Unwrap() error { return e.err }

// cause returns err without the prefix "arcache: <op>" that package
// arcache gives its errors, keeping err for errors.Is.
func cause(err error, op string) error {
	rest, ok := strings.CutPrefix(err.Error(), "arcache: "+op)
	if !ok {
		return err
	}
	return &causeError{strings.TrimLeft(rest, ": "), err}
}
