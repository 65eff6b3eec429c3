// Command forms-worker applies paper forms from the forms queue.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.FormsWorker) }
