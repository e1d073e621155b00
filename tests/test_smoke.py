from anp_synth.generate.builder import build_post
from anp_synth.post import Post


def test_seed_2852_is_the_seed_articles_identity() -> None:
    post = Post.model_validate(build_post(2852))
    assert post.source_id == "alphanode-002852"
    assert post.meta.payload.seed == 2852
    assert post.meta.reference.startswith("anp-ref-002852-")
