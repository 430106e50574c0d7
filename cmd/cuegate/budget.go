package main

import "github.com/cuegate/cuegate/internal/budget"

// The hidden subcommand in which budget.Budget.Compile runs a compile.
func init() {
	register(command{budget.Command, "", budget.RunChild})
}
