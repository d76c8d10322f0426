"""Reading the archive for people: reuse figures, export, the HTML report."""
