"""Text swaps into a copy of one of joule's headers, for the bench/ab scripts that time joule from
the inside (resnet50_in_model.sh, mobilenet_v2_in_model.sh, fork_gaps.sh). Each swap must find its
text: a header that has moved on stops the script instead of timing something else."""
import sys


class Header:
    def __init__(self, path, script):
        self.path, self.script = path, script
        with open(path) as f:
            self.text = f.read()

    def has(self, text):
        return text in self.text

    def swap(self, old, new):
        """Replaces the first occurrence of old with new, or stops the script if there is none."""
        if old not in self.text:
            sys.exit(f"{self.script}: {self.path} no longer has:\n{old}")
        self.text = self.text.replace(old, new, 1)

    def save(self):
        with open(self.path, "w") as f:
            f.write(self.text)
