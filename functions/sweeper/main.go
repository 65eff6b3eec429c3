// Command sweeper moves due deletion jobs to the purge queue (scheduled).
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.Sweeper) }
