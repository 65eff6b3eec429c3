// Command forms is the operators' route for paper forms.
package main

import "privacycore/shared/wire"

func main() { wire.Start(wire.FormsAPI) }
