def test_me(member, client_for):
    response = client_for(member).get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json()["memberships"][0]["role"] == "member"
