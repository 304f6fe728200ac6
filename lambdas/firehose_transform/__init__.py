"""The Firehose transformation Lambda: validates each analytics output record and writes it as one line of
newline-delimited JSON. Standard library only, so its zip is just this folder."""
