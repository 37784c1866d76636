"""Long file jobs, whatever they compute: the resumable, sharded scoring loop (`runner`), the partial
output a killed job resumes from (`partial`), and the slicing of a job across processes (`sharding`).
`gram score`, `gram eval`, `gram rank` and `gram bon` run on them; training ends its process group here."""
