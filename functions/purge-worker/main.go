// Command purge-worker erases a deceased person's data when its job is due.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.PurgeWorker) }
