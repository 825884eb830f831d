"""Image → text: A1111's "Interrogate CLIP" (BLIP caption + CLIP-ranked phrases) and "Interrogate DeepBooru"
(anime tags). No torch at import: the models load inside the job that first needs them."""
from modules.interrogate.request import MODELS, InterrogateRequest, InterrogateResult, validate_model
from modules.interrogate.service import Interrogators

__all__ = ["MODELS", "InterrogateRequest", "InterrogateResult", "Interrogators", "validate_model"]
