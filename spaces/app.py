"""Gradio Space of hf_ser: speech emotion recognition in the browser.

The app itself lives in :mod:`hf_ser.app.demo` (shared with `hf-ser demo`); this file only starts it.
Set the Space variable `HF_SER_MODEL` to a Hub model id to serve that model instead of the built-in
default. Locally: `python spaces/app.py` (honours `GRADIO_SERVER_NAME` / `GRADIO_SERVER_PORT`).
"""

from hf_ser.app.demo import build_demo, launch_settings

demo = build_demo()  # module-level `demo`, as Spaces and `gradio app.py` (reload mode) expect

if __name__ == "__main__":
    # host and port from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (Gradio's defaults otherwise)
    demo.launch(**launch_settings())
